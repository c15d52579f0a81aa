"""RLP source: the firehose from a reverse log proxy's BatchedReceiver, over mutual TLS.

Uses lgr.core.clients.egress (which reconnects within a stream's life and reports drops the
rlp makes for this stream); the feed runner reopens it when it gives up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

from lgr.core import probe, tls
from lgr.core.clients.defaults import TLS_ENV
from lgr.core.clients.egress import EgressClient, egress_request


class RlpSource:
    """Every envelope (all five types, no shard group) from the rlp at ``address``.

    The certificate files are checked here, so a bad one is reported before the UI starts.
    """

    def __init__(self, address: str, ca_file: Path, cert_file: Path, key_file: Path, *,
                 connect_timeout: float = 3.0, server_name: str = tls.RLP_SERVER_NAME) -> None:
        self.address = address
        self.what = f"the reverse log proxy at {address}"
        self._credentials = tls.client_credentials(ca_file, cert_file, key_file, env=TLS_ENV)
        self._context = probe.grpc_client_context(str(ca_file), str(cert_file), str(key_file))
        self._server_name = server_name
        self._connect_timeout = connect_timeout

    def open(self, on_event: Callable[[object], None]) -> AsyncIterator[list]:
        client = EgressClient(self.address, self._credentials, egress_request(),
                              server_name=self._server_name, on_event=on_event,
                              connect_timeout=self._connect_timeout)
        return client.batches()

    def reachable(self) -> bool:
        return probe.tls_accepts(self.address, self._context, self._server_name)
