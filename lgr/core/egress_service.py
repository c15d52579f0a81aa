"""Egress service base: the v2 Egress skeleton the router and the reverse log proxy share.

It keeps the open streams by id (with a gauge of how many), the closing flag and the idle event
:meth:`EgressServiceBase.drained` waits on, registers ``BatchedReceiver`` and ``Receiver`` as a
generic handler whose request and response stay raw bytes (``grpc_server.identity``), and writes a
stream's batches out (:meth:`EgressServiceBase._send`): one EnvelopeBatch per batch for
BatchedReceiver, one Envelope per message for Receiver. Subclasses implement the two RPC methods
(parse the request, open their kind of stream, ``_send`` it, close it) and :meth:`_end_stream`.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Generic, Protocol, TypeVar

import grpc

from lgr.core.envelope import join_batch
from lgr.core.grpc_server import identity
from lgr.core.metrics import Gauge

SERVICE = "loggregator.v2.Egress"


class EgressStream(Protocol):
    """What the base needs of a stream: an id and its next batch ([] once it has ended)."""

    id: int

    def next_batch(self) -> Awaitable[list[bytes]]: ...


S = TypeVar("S", bound=EgressStream)


class EgressServiceBase(Generic[S]):
    """Stream registry, shutdown and handler registration of a loggregator.v2.Egress server."""

    def __init__(self, subscriptions: Gauge) -> None:
        self._subscriptions = subscriptions
        self._ids = itertools.count(1)
        self.streams: dict[int, S] = {}
        self._closing = False
        self._idle = asyncio.Event()
        self._idle.set()

    def handler(self) -> grpc.GenericRpcHandler:
        """The generic handler to register on a grpc.aio server."""
        return grpc.method_handlers_generic_handler(SERVICE, {
            "BatchedReceiver": grpc.unary_stream_rpc_method_handler(
                self.BatchedReceiver, request_deserializer=identity,
                response_serializer=identity),
            "Receiver": grpc.unary_stream_rpc_method_handler(
                self.Receiver, request_deserializer=identity, response_serializer=identity),
        })

    async def BatchedReceiver(  # noqa: N802 - the proto's method name
        self, data: bytes, context: grpc.aio.ServicerContext
    ) -> None:
        raise NotImplementedError

    async def Receiver(  # noqa: N802
        self, data: bytes, context: grpc.aio.ServicerContext
    ) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """End every stream once it has sent what it holds."""
        self._closing = True
        for stream in list(self.streams.values()):
            self._end_stream(stream)

    def _end_stream(self, stream: S) -> None:
        """Ask ``stream`` to end once it has sent what it holds."""
        raise NotImplementedError

    async def drained(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for every stream to end; True if they all did."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    def _next_id(self) -> int:
        return next(self._ids)

    def _add(self, stream: S) -> None:
        self.streams[stream.id] = stream
        self._idle.clear()
        self._subscriptions.set(len(self.streams))

    def _remove(self, stream: S) -> bool:
        """Forget ``stream``; True if it was still registered."""
        removed = self.streams.pop(stream.id, None) is not None
        if removed:
            self._subscriptions.set(len(self.streams))
        if not self.streams:
            self._idle.set()
        return removed

    @staticmethod
    async def _send(stream: S, context: grpc.aio.ServicerContext, *, batched: bool,
                    sent: Callable[[list[bytes]], None]) -> None:
        """Write ``stream``'s batches until it ends; ``sent`` gets what each message carried."""
        await context.send_initial_metadata(())
        while batch := await stream.next_batch():
            if batched:
                await context.write(join_batch(batch))
                sent(batch)
                continue
            for env in batch:
                await context.write(env)
                sent([env])
