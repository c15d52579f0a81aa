"""Where `lgr tail` reads its live stream: the reverse log proxy (gRPC, mTLS) or the rlp gateway
(HTTPS server-sent events, bearer token). Both give the same batches for the same filters."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from lgr.commands import _client


class Via(str, enum.Enum):
    """The server `lgr tail --via` streams from."""

    rlp = "rlp"
    gateway = "gateway"


@dataclass
class Filters:
    """What the live stream selects (the server side of `lgr tail`'s filters)."""

    sources: list[str]
    kinds: list[str]
    counter_name: str
    gauge_names: list[str]
    shard_id: str


@dataclass
class Flags:
    """The connection flags `lgr tail` was given (None: not given)."""

    rlp_addr: str | None
    gateway_addr: str | None
    token: str | None
    ca_file: Path | None
    cert_file: Path | None
    key_file: Path | None
    connect_timeout: float


class Live:
    """One live stream: ``batches()`` to iterate, ``received`` so far, ``where`` for messages."""

    def __init__(self, client, where: str) -> None:  # noqa: ANN001 - EgressClient or GatewayClient
        self.client = client
        self.where = where

    @property
    def received(self) -> int:
        return self.client.received

    def batches(self) -> AsyncIterator[list]:
        return self.client.batches()


def open_live(via: Via, filters: Filters, flags: Flags, status: Callable[[str], None]) -> Live:
    """The live stream of ``filters`` from the server ``via`` names (not connected yet)."""
    if via is Via.gateway:
        return _gateway(filters, flags, status)
    return _rlp(filters, flags, status)


def _rlp(filters: Filters, flags: Flags, status: Callable[[str], None]) -> Live:
    _client.quiet_grpc()
    from lgr.core.clients.defaults import RlpClientConfig
    from lgr.core.clients.egress import EgressClient, describe_event, egress_request

    config = _client.load(RlpClientConfig, rlp_addr=flags.rlp_addr, ca_file=flags.ca_file,
                          cert_file=flags.cert_file, key_file=flags.key_file)
    request = egress_request(filters.sources, filters.kinds, counter_name=filters.counter_name,
                             gauge_names=filters.gauge_names, shard_id=filters.shard_id)
    client = EgressClient.from_config(
        config, request, connect_timeout=flags.connect_timeout,
        on_event=lambda event: status(describe_event(event, config.rlp_addr)),
    )
    return Live(client, f"the rlp at {config.rlp_addr}")


def _gateway(filters: Filters, flags: Flags, status: Callable[[str], None]) -> Live:
    from lgr.core.clients.defaults import GatewayClientConfig
    from lgr.core.clients.gateway import GatewayClient, describe_event, read_params

    config = _client.load(GatewayClientConfig, gateway_addr=flags.gateway_addr, token=flags.token,
                          ca_file=flags.ca_file)
    params = read_params(filters.sources, filters.kinds, counter_name=filters.counter_name,
                         gauge_names=filters.gauge_names, shard_id=filters.shard_id)

    def on_event(event) -> None:  # noqa: ANN001
        line = describe_event(event, config.gateway_url)
        if line:
            status(line)

    client = GatewayClient.from_config(config, params, on_event=on_event,
                                       connect_timeout=flags.connect_timeout)
    return Live(client, f"the rlp gateway at {config.gateway_url}")
