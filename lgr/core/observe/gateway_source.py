"""Gateway source: the firehose from an rlp gateway's ``/v2/read``, read by the shared GatewayClient.

lgr.core.clients.gateway does the reading: the bearer token, server-sent events, renewing the
stream when the gateway closes it at its STREAM_TIMEOUT, reconnecting with backoff when it breaks
(reported as StreamInterrupted / StreamResumed events, which the feed runner shows). A refusal (the
firehose needs an admin token) or no answer at all ends the stream with an error, and the feed
runner opens a new one. The address, CA and token come from the shared GatewayClientConfig.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable

from lgr.core import probe
from lgr.core.clients.defaults import GatewayClientConfig, https_context


class GatewaySource:
    """The whole firehose (all five types, no shard group) through the gateway ``config`` names."""

    def __init__(self, config: GatewayClientConfig, *, connect_timeout: float = 3.0) -> None:
        self.config = config
        self.url = config.gateway_url
        self.what = f"the rlp gateway at {self.url}"
        self._address = self.url.partition("://")[2]
        self._context = https_context(self.url, config.ca_file)
        self._connect_timeout = connect_timeout

    def open(self, on_event: Callable[[object], None]) -> AsyncIterator[list]:
        from lgr.core.clients.gateway import GatewayClient, read_params  # aiohttp: loaded when used

        client = GatewayClient.from_config(self.config, read_params(), on_event=on_event,
                                           connect_timeout=self._connect_timeout)
        return client.batches()

    def reachable(self) -> bool:
        if self._context is not None:
            return probe.tls_accepts(self._address, self._context, probe.split_address(self._address)[0])
        try:  # plain http: does anything accept a connection?
            with socket.create_connection(probe.split_address(self._address), timeout=1.0):
                return True
        except OSError:
            return False
