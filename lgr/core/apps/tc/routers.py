"""Router streams: one subscription's BatchedReceiver on every router, reopened when it breaks.

As upstream's traffic controller (and the RLP), the controller reads the routers directly: one
mTLS channel per address in ROUTER_ADDRS, routers verified as "doppler", and every websocket (or
the recent-logs store) opens its own BatchedReceiver on each channel. A stream that ends or fails
is reopened after 0.1 s, doubling to 2 s, while the other routers' streams carry on. Each batch
arrives as raw EnvelopeBatch bytes and goes to the subscriber's ``on_batch``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import grpc

from lgr.core._proto.loggregator.v2 import egress_pb2
from lgr.core.apps.tc.metrics import TcMetrics
from lgr.core.grpc_server import identity
from lgr.core.tls import ROUTER_SERVER_NAME, channel_options

BATCHED_RECEIVER = "/loggregator.v2.Egress/BatchedReceiver"
MIN_BACKOFF = 0.1  # seconds
MAX_BACKOFF = 2.0  # seconds

log = logging.getLogger("lgr.tc")


class RouterPool:
    """A channel per router address, shared by every subscription of the controller."""

    def __init__(self, addrs: list[str], credentials: grpc.ChannelCredentials) -> None:
        options = channel_options(ROUTER_SERVER_NAME) + [
            ("grpc.initial_reconnect_backoff_ms", int(MIN_BACKOFF * 1000)),
            ("grpc.min_reconnect_backoff_ms", int(MIN_BACKOFF * 1000)),
            ("grpc.max_reconnect_backoff_ms", int(MAX_BACKOFF * 1000)),
        ]
        self.addrs = list(dict.fromkeys(addrs))  # a router listed twice is read once
        self._channels = {a: grpc.aio.secure_channel(a, credentials, options=options)
                          for a in self.addrs}
        self._calls = {
            a: ch.unary_stream(BATCHED_RECEIVER, request_serializer=identity,
                               response_deserializer=identity)
            for a, ch in self._channels.items()
        }
        self._up: dict[str, bool | None] = {a: None for a in self.addrs}

    def open(self, addr: str, request: bytes) -> grpc.aio.UnaryStreamCall:
        """Open BatchedReceiver on router ``addr`` with a serialized EgressBatchRequest."""
        return self._calls[addr](request)

    def note(self, addr: str, up: bool, reason: str = "") -> None:
        """Log a router coming up or going down (once per change)."""
        if self._up.get(addr) is not up:
            self._up[addr] = up
            if up:
                log.info("tc connected to router %s", addr)
            else:
                log.warning("tc lost router %s (%s); reconnecting", addr, reason)

    async def close(self) -> None:
        """Close every channel, cancelling their streams."""
        for channel in self._channels.values():
            await channel.close()


class RouterStream:
    """``request``'s envelopes from every router, handed over batch by batch to ``on_batch``."""

    def __init__(self, pool: RouterPool, request: egress_pb2.EgressBatchRequest,
                 on_batch: Callable[[bytes], None], metrics: TcMetrics) -> None:
        self._pool = pool
        self._request = request.SerializeToString()
        self._on_batch = on_batch
        self._metrics = metrics
        self._readers: list[asyncio.Task[None]] = []
        self.connected: set[str] = set()

    def start(self) -> None:
        """Start reading from every router."""
        self._readers = [asyncio.ensure_future(self._read(a)) for a in self._pool.addrs]

    async def stop(self) -> None:
        """Stop reading (idempotent)."""
        for task in self._readers:
            task.cancel()
        if self._readers:
            await asyncio.gather(*self._readers, return_exceptions=True)
        self._readers = []

    async def _read(self, addr: str) -> None:
        delay = MIN_BACKOFF
        loop = asyncio.get_running_loop()
        while True:
            call = self._pool.open(addr, self._request)
            started = loop.time()
            try:
                await call.initial_metadata()
                if not call.done():
                    self._connected(addr)
                async for batch in call:
                    self._connected(addr)
                    self._on_batch(batch)
                self._pool.note(addr, False, "the router ended the stream")
            except grpc.aio.AioRpcError as exc:
                self._pool.note(addr, False, f"{exc.code().name}: {exc.details()}")
            except asyncio.CancelledError:
                call.cancel()
                raise
            finally:
                if addr in self.connected:
                    self.connected.discard(addr)
                    self._metrics.router_disconnects.inc()
            if loop.time() - started > MAX_BACKOFF:
                delay = MIN_BACKOFF  # it had been up a while: retry soon
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF)

    def _connected(self, addr: str) -> None:
        if addr not in self.connected:
            self.connected.add(addr)
            self._metrics.router_connects.inc()
            self._pool.note(addr, True)
