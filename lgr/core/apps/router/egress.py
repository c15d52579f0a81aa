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

import logging

import grpc

from lgr.core._proto.loggregator.v2 import egress_pb2
from lgr.core.batching import take_batch
from lgr.core.diode import Diode
from lgr.core.drops import DropTracker
from lgr.core.egress_service import EgressServiceBase
from lgr.core.grpc_server import parse_request
from lgr.core.metrics import Counter, Gauge
from lgr.core.pubsub import PubSub, Request, Subscription

IDLE_CHECK = 0.5  # seconds an idle stream sleeps before checking whether the router is stopping

log = logging.getLogger("lgr.router")


class SubscriberStream:
    """One egress stream: its subscription, its buffer and its drop count."""

    def __init__(self, stream_id: int, request: Request, buffer_size: int,
                 dropped: Counter, buffer_bytes: int | None = None) -> None:
        self.id = stream_id
        self.shard_id = request.shard_id
        self.drops = DropTracker(
            f"subscription {stream_id} (shard_id {request.shard_id!r})", [dropped])
        self.diode: Diode[bytes] = Diode(buffer_size, on_drop=self.drops, max_bytes=buffer_bytes)
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


class EgressService(EgressServiceBase[SubscriberStream]):
    """Handlers of loggregator.v2.Egress serving subscriptions of ``pubsub``.

    :meth:`close` ends every stream once it has sent what it holds and refuses none (the server
    does).
    """

    def __init__(self, pubsub: PubSub, buffer_size: int, egress: Counter, dropped: Counter,
                 subscriptions: Gauge, buffer_bytes: int | None = None) -> None:
        super().__init__(subscriptions)
        self._pubsub = pubsub
        self._buffer_size = buffer_size
        self._buffer_bytes = buffer_bytes
        self._egress = egress
        self._dropped = dropped

    async def BatchedReceiver(  # noqa: N802 - the proto's method name
        self, data: bytes, context: grpc.aio.ServicerContext
    ) -> None:
        """Stream EnvelopeBatches of the envelopes the request selects until the client leaves."""
        request = await parse_request(egress_pb2.EgressBatchRequest, data, context)
        await self._serve(self._open(request), context, batched=True)

    async def Receiver(  # noqa: N802
        self, data: bytes, context: grpc.aio.ServicerContext
    ) -> None:
        """Stream single Envelopes of what the request selects until the client leaves."""
        request = await parse_request(egress_pb2.EgressRequest, data, context)
        await self._serve(self._open(request), context, batched=False)

    async def _serve(self, stream: SubscriberStream, context: grpc.aio.ServicerContext, *,
                     batched: bool) -> None:
        egress = self._egress
        try:
            await self._send(stream, context, batched=batched,
                             sent=lambda envs: egress.inc(len(envs)))
        finally:
            self._close(stream)

    def _end_stream(self, stream: SubscriberStream) -> None:
        stream.closing = True

    def _open(self, request: Request) -> SubscriberStream:
        stream = SubscriberStream(self._next_id(), request, self._buffer_size, self._dropped,
                                  self._buffer_bytes)
        stream.closing = self._closing
        diode = stream.diode
        stream.subscription = self._pubsub.subscribe(request, diode.put, diode.put_many)
        self._add(stream)
        log.debug("subscription %d opened: %s", stream.id, stream.subscription)
        return stream

    def _close(self, stream: SubscriberStream) -> None:
        if stream.subscription is not None:
            stream.subscription.unsubscribe()
        left = len(stream.diode.take(stream.diode.size))  # the subscriber left them behind
        if left:
            stream.drops(left)
        if self._remove(stream):
            log.debug("subscription %d closed (%d dropped)", stream.id, stream.dropped)
