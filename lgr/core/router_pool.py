"""Router egress connections shared by the RLP and the traffic controller.

Both read the routers directly, as upstream's do: one mTLS channel per address in ROUTER_ADDRS
(routers verified under upstream's fixed name "doppler"), and for each subscription a
BatchedReceiver stream on every channel (the traffic controller: upstream's v1
``plumbing.Doppler/BatchSubscribe``). :class:`RouterStream` keeps one subscription's streams
open: a stream that ends or fails is reopened after 0.1 s, doubling to 2 s, while the other
routers' streams carry on. Batches arrive as raw bytes (EnvelopeBatch, or BatchResponse for v1:
both are field 1, repeated). Channel reconnect backoff
is capped at :data:`MAX_BACKOFF` seconds (gRPC's default grows to 120 s), so a restarted router
is found again within seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import grpc

from lgr.core.grpc_server import identity
from lgr.core.metrics import Counter
from lgr.core.tls import ROUTER_SERVER_NAME, channel_options

BATCHED_RECEIVER = "/loggregator.v2.Egress/BatchedReceiver"
BATCH_SUBSCRIBE = "/plumbing.Doppler/BatchSubscribe"
MIN_BACKOFF = 0.1  # seconds
MAX_BACKOFF = 2.0  # seconds


def backoff_options() -> list[tuple[str, int]]:
    """Channel options bounding gRPC's own reconnect backoff."""
    return [
        ("grpc.initial_reconnect_backoff_ms", int(MIN_BACKOFF * 1000)),
        ("grpc.min_reconnect_backoff_ms", int(MIN_BACKOFF * 1000)),
        ("grpc.max_reconnect_backoff_ms", int(MAX_BACKOFF * 1000)),
    ]


class RouterPool:
    """A channel per router address; :meth:`open` opens raw-bytes streams on it.

    ``component`` names the owner in log lines ("rlp connected to router ...").
    """

    def __init__(self, addrs: list[str], credentials: grpc.ChannelCredentials,
                 component: str) -> None:
        options = channel_options(ROUTER_SERVER_NAME) + backoff_options()
        self.addrs = list(dict.fromkeys(addrs))  # a router listed twice is read once
        self._component = component
        self._log = logging.getLogger(f"lgr.{component}")
        self._channels = {a: grpc.aio.secure_channel(a, credentials, options=options)
                          for a in self.addrs}
        self._up: dict[str, bool | None] = {a: None for a in self.addrs}
        self._calls: dict[tuple[str, str], grpc.aio.UnaryStreamMultiCallable] = {}

    def open(self, addr: str, request: bytes,
             method: str = BATCHED_RECEIVER) -> grpc.aio.UnaryStreamCall:
        """Open ``method`` (BatchedReceiver unless told) on router ``addr`` with a serialized
        request (EgressBatchRequest; SubscriptionRequest for BATCH_SUBSCRIBE)."""
        call = self._calls.get((addr, method))
        if call is None:
            call = self._calls[(addr, method)] = self._channels[addr].unary_stream(
                method, request_serializer=identity, response_deserializer=identity)
        return call(request)

    def note_up(self, addr: str) -> None:
        """A stream to ``addr`` is open; log when the router was down or never seen."""
        if self._up.get(addr) is not True:
            self._up[addr] = True
            self._log.info("%s connected to router %s", self._component, addr)

    def note_down(self, addr: str, reason: str) -> None:
        """A stream to ``addr`` failed; log the first failure until it is back."""
        if self._up.get(addr) is not False:
            self._up[addr] = False
            self._log.warning("%s lost router %s (%s); reconnecting", self._component, addr, reason)

    async def close(self) -> None:
        """Close every channel (cancelling its streams)."""
        for channel in self._channels.values():
            await channel.close()


class RouterStream:
    """One subscription's BatchedReceiver on every router, each batch handed to ``on_batch``.

    ``connects`` / ``disconnects`` count streams coming up and going down; ``connected`` holds
    the routers currently streaming. ``method`` is BatchedReceiver unless told.
    """

    def __init__(self, pool: RouterPool, request: bytes, on_batch: Callable[[bytes, str], None],
                 connects: Counter, disconnects: Counter, method: str = BATCHED_RECEIVER) -> None:
        self._pool = pool
        self._request = request
        self._method = method
        self._on_batch = on_batch
        self._connects = connects
        self._disconnects = disconnects
        self._readers: list[asyncio.Task[None]] = []
        self.connected: set[str] = set()

    def start(self) -> None:
        """Start reading from every router."""
        self._readers = [asyncio.ensure_future(self._read(a)) for a in self._pool.addrs]

    def cancel(self) -> None:
        """Stop reading without waiting."""
        for task in self._readers:
            task.cancel()

    async def stop(self) -> None:
        """Stop reading and wait for the readers to end (idempotent)."""
        self.cancel()
        if self._readers:
            await asyncio.gather(*self._readers, return_exceptions=True)
        self._readers = []

    async def _read(self, addr: str) -> None:
        loop = asyncio.get_running_loop()
        delay = MIN_BACKOFF
        while True:
            call = self._pool.open(addr, self._request, self._method)
            started = loop.time()
            streamed = False
            try:
                await call.initial_metadata()
                if not call.done():
                    streamed = True
                    self._connected(addr)
                async for batch in call:
                    if not streamed:
                        streamed = True
                        self._connected(addr)
                    self._on_batch(batch, addr)
                self._pool.note_down(addr, "the router ended the stream")
            except grpc.aio.AioRpcError as exc:
                self._pool.note_down(addr, f"{exc.code().name}: {exc.details()}")
            except asyncio.CancelledError:
                call.cancel()
                raise
            finally:
                if addr in self.connected:
                    self.connected.discard(addr)
                    self._disconnects.inc()
            if streamed or loop.time() - started > MAX_BACKOFF:
                delay = MIN_BACKOFF  # it had been up: retry soon
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF)

    def _connected(self, addr: str) -> None:
        if addr not in self.connected:
            self.connected.add(addr)
            self._connects.inc()
            self._pool.note_up(addr)
