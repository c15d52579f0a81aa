"""Router egress: the v2 Egress service; each subscription has its own drop-oldest buffer.

A stream subscribes its request to the PubSub with its own :class:`~lgr.core.diode.Diode` as the
delivery target, then drains that diode: whatever is there (up to 100 envelopes, more when it has
fallen behind: :mod:`lgr.core.batching`) goes out at once as one EnvelopeBatch built from the
envelopes' bytes (``envelope.join_batch``), so latency stays low at low rates and batches fill up
under load. A consumer that reads slowly or not at all only
fills its own diode, which drops its oldest envelopes (counted for the subscription and in
``dropped{direction="egress"}``); the publisher and the other streams never wait for it.

The router takes requests as they come, like upstream's: ``legacy_selector`` is ignored (the RLP
converts it) and a request without selectors gets no data rather than an error. Receiver, which
upstream's router leaves UNIMPLEMENTED, is served too, one envelope per message. Initial metadata
is sent as soon as the subscription is in place, so a client can tell when data will reach it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging

import grpc

from lgr.core._proto.loggregator.v2 import egress_pb2
from lgr.core.batching import take_batch
from lgr.core.diode import Diode
from lgr.core.drops import DropTracker
from lgr.core.envelope import join_batch
from lgr.core.grpc_server import identity, parse_request
from lgr.core.metrics import Counter, Gauge
from lgr.core.pubsub import PubSub, Request, Subscription

SERVICE = "loggregator.v2.Egress"
IDLE_CHECK = 0.5  # seconds an idle stream sleeps before checking whether the router is stopping

log = logging.getLogger("lgr.router")


class SubscriberStream:
    """One egress stream: its subscription, its buffer and its drop count."""

    def __init__(self, stream_id: int, request: Request, buffer_size: int,
                 dropped: Counter) -> None:
        self.id = stream_id
        self.shard_id = request.shard_id
        self.drops = DropTracker(
            f"subscription {stream_id} (shard_id {request.shard_id!r})", [dropped])
        self.diode: Diode[bytes] = Diode(buffer_size, on_drop=self.drops)
        self.subscription: Subscription | None = None
        self.closing = False

    @property
    def dropped(self) -> int:
        """Envelopes this stream has dropped so far."""
        return self.drops.total

    async def next_batch(self) -> list[bytes]:
        """The next batch (:func:`take_batch`) as soon as there is one; [] once closed and empty."""
        diode = self.diode
        while True:
            items = take_batch(diode)
            if items:
                return items
            if self.closing:
                return []
            await diode.wait(IDLE_CHECK)


class EgressService:
    """Handlers of loggregator.v2.Egress serving subscriptions of ``pubsub``."""

    def __init__(self, pubsub: PubSub, buffer_size: int, egress: Counter, dropped: Counter,
                 subscriptions: Gauge) -> None:
        self._pubsub = pubsub
        self._buffer_size = buffer_size
        self._egress = egress
        self._dropped = dropped
        self._subscriptions = subscriptions
        self._ids = itertools.count(1)
        self.streams: dict[int, SubscriberStream] = {}
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
        """Stream EnvelopeBatches of the envelopes the request selects until the client leaves."""
        request = await parse_request(egress_pb2.EgressBatchRequest, data, context)
        stream = self._open(request)
        try:
            await context.send_initial_metadata(())
            while batch := await stream.next_batch():
                await context.write(join_batch(batch))
                self._egress.inc(len(batch))
        finally:
            self._close(stream)

    async def Receiver(  # noqa: N802
        self, data: bytes, context: grpc.aio.ServicerContext
    ) -> None:
        """Stream single Envelopes of what the request selects until the client leaves."""
        request = await parse_request(egress_pb2.EgressRequest, data, context)
        stream = self._open(request)
        try:
            await context.send_initial_metadata(())
            while batch := await stream.next_batch():
                for env in batch:
                    await context.write(env)
                    self._egress.inc(1)
        finally:
            self._close(stream)

    def close(self) -> None:
        """End every stream once it has sent what it holds; refuse none (the server does)."""
        self._closing = True
        for stream in list(self.streams.values()):
            stream.closing = True

    async def drained(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for every stream to end; True if they all did."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    def _open(self, request: Request) -> SubscriberStream:
        stream = SubscriberStream(next(self._ids), request, self._buffer_size, self._dropped)
        stream.closing = self._closing
        diode = stream.diode
        stream.subscription = self._pubsub.subscribe(request, diode.put, diode.put_many)
        self.streams[stream.id] = stream
        self._idle.clear()
        self._subscriptions.set(len(self.streams))
        log.debug("subscription %d opened: %s", stream.id, stream.subscription)
        return stream

    def _close(self, stream: SubscriberStream) -> None:
        if stream.subscription is not None:
            stream.subscription.unsubscribe()
        if self.streams.pop(stream.id, None) is not None:
            self._subscriptions.set(len(self.streams))
            log.debug("subscription %d closed (%d dropped)", stream.id, stream.dropped)
        if not self.streams:
            self._idle.set()
