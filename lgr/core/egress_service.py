"""Egress service base: the v2 Egress skeleton the router and the reverse log proxy share.

It keeps the open streams by id (with a gauge of how many), the closing flag and the idle event
:meth:`EgressServiceBase.drained` waits on, registers ``BatchedReceiver`` and ``Receiver`` as a
generic handler whose request and response stay raw bytes (``grpc_server.identity``), and writes a
stream's batches out (:meth:`EgressServiceBase._send`): one EnvelopeBatch per batch for
BatchedReceiver, one Envelope per message for Receiver. Subclasses implement the two RPC methods
(parse the request, open their kind of stream, ``_send`` it, close it) and :meth:`_end_stream`.

A batch goes out in as many messages as gRPC's message limit needs (:func:`batching.fit`); an
envelope too large for any message is dropped and counted on its stream, with a log line at most
every 10 s, and the stream goes on. A write that fails because the client has gone ends the
stream quietly (gRPC would log its internal error with a traceback); the envelopes of the batch in
hand that were not written are counted as dropped on the stream, and the subclass counts what is
left in the stream's buffer when it closes, so a broken stream loses nothing uncounted on this side.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, Protocol, TypeVar

import grpc

from lgr.core.batching import fit
from lgr.core.drops import DropTracker
from lgr.core.envelope import join_batch
from lgr.core.grpc_server import identity
from lgr.core.metrics import Gauge
from lgr.core.tls import MAX_MESSAGE_BYTES

SERVICE = "loggregator.v2.Egress"

_log = logging.getLogger("lgr.egress")

# Logs (at most every 10 s) why envelopes were dropped; each stream's own tracker counts them.
_too_large = DropTracker(f"envelopes too large for one gRPC message ({MAX_MESSAGE_BYTES} bytes)",
                         [])


class EgressStream(Protocol):
    """What the base needs of a stream: an id, its drop tracker and its next batch ([] once it
    has ended)."""

    id: int
    drops: DropTracker

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
        """Write ``stream``'s batches until it ends or a write fails (the client has gone);
        ``sent`` gets what each message carried."""
        await context.send_initial_metadata(())
        reports = getattr(stream, "has_reports", None)  # the rlp's drop reports are not envelopes
        while batch := await stream.next_batch():
            unsent = len(batch) - (reports(batch) if reports is not None else 0)
            try:
                if batched:
                    runs, too_large = fit(batch)
                    unsent -= len(too_large)
                    for run in runs:
                        if not await _write(context, join_batch(run)):
                            return
                        unsent -= len(run)
                        sent(run)
                else:
                    too_large = [env for env in batch if len(env) > MAX_MESSAGE_BYTES]
                    unsent -= len(too_large)
                    for env in batch:
                        if len(env) <= MAX_MESSAGE_BYTES:
                            if not await _write(context, env):
                                return
                            unsent -= 1
                            sent([env])
            finally:
                # The client has gone (or the handler was cancelled) with this much in hand.
                if unsent > 0:
                    stream.drops(unsent)
            if too_large:
                stream.drops(len(too_large))
                _too_large(len(too_large))


async def _write(context: grpc.aio.ServicerContext, message: bytes) -> bool:
    """Write one message; False when the call is broken (a server stream's write fails only then,
    raising gRPC's internal ExecuteBatchError before the call is marked cancelled)."""
    try:
        await context.write(message)
    except Exception as exc:  # noqa: BLE001 - any failed write ends this stream, and only it
        _log.debug("egress write failed, ending the stream: %s: %s", type(exc).__name__, exc)
        return False
    return True
