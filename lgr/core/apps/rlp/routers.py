"""Router connections: one mTLS channel per address in ROUTER_ADDRS, shared by every consumer.

gRPC multiplexes the consumers' BatchedReceiver streams over each channel. The RLP verifies the
routers under upstream's fixed name "doppler" and presents its own certificate. Channel reconnect
backoff is capped at :data:`MAX_BACKOFF` seconds (gRPC's default grows to 120 s), so a restarted
router is found again within seconds.
"""

from __future__ import annotations

import logging

import grpc

from lgr.core.grpc_server import identity
from lgr.core.tls import ROUTER_SERVER_NAME, channel_options

BATCHED_RECEIVER = "/loggregator.v2.Egress/BatchedReceiver"
MIN_BACKOFF = 0.1  # seconds
MAX_BACKOFF = 2.0  # seconds

log = logging.getLogger("lgr.rlp")


def backoff_options() -> list[tuple[str, int]]:
    """Channel options bounding gRPC's own reconnect backoff."""
    return [
        ("grpc.initial_reconnect_backoff_ms", int(MIN_BACKOFF * 1000)),
        ("grpc.min_reconnect_backoff_ms", int(MIN_BACKOFF * 1000)),
        ("grpc.max_reconnect_backoff_ms", int(MAX_BACKOFF * 1000)),
    ]


class RouterPool:
    """A channel per router address; :meth:`batched_receiver` opens raw-bytes streams on it."""

    def __init__(self, addrs: list[str], credentials: grpc.ChannelCredentials) -> None:
        options = channel_options(ROUTER_SERVER_NAME) + backoff_options()
        self.addrs = list(dict.fromkeys(addrs))  # a router listed twice is read once
        self._channels = {a: grpc.aio.secure_channel(a, credentials, options=options)
                          for a in self.addrs}
        self._up: dict[str, bool | None] = {a: None for a in self.addrs}
        self._calls = {
            a: ch.unary_stream(BATCHED_RECEIVER, request_serializer=identity,
                               response_deserializer=identity)
            for a, ch in self._channels.items()
        }

    def batched_receiver(self, addr: str, request: bytes) -> grpc.aio.UnaryStreamCall:
        """Open BatchedReceiver on router ``addr`` with a serialized EgressBatchRequest."""
        return self._calls[addr](request)

    def note_up(self, addr: str) -> None:
        """A stream to ``addr`` is open; log when the router was down or never seen."""
        if self._up.get(addr) is not True:
            self._up[addr] = True
            log.info("rlp connected to router %s", addr)

    def note_down(self, addr: str, reason: str) -> None:
        """A stream to ``addr`` failed; log the first failure until it is back."""
        if self._up.get(addr) is not False:
            self._up[addr] = False
            log.warning("rlp lost router %s (%s); reconnecting", addr, reason)

    async def close(self) -> None:
        """Close every channel (cancelling its streams)."""
        for channel in self._channels.values():
            await channel.close()
