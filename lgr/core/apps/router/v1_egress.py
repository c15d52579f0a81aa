"""Router v1 egress: upstream's ``plumbing.Doppler`` service (Subscribe, BatchSubscribe).

Each call subscribes its SubscriptionRequest (:mod:`.v1_routing`) with its own drop-oldest buffer
of EGRESS_BUFFER_SIZE envelopes (and at most LGR_ROUTER_SUBSCRIBER_BUFFER_BYTES); a subscriber that
reads slowly only fills its own buffer, whose drops are counted in ``dropped{direction="egress"}``,
as upstream's DopplerServer counts them. BatchSubscribe sends what the buffer holds as one
``BatchResponse{payload...}`` (up to 100 envelopes, more when the stream has fallen behind:
:mod:`lgr.core.batching`, split under the gRPC message limit); Subscribe sends one
``Response{payload}`` per envelope. Both have the wire form of an EnvelopeBatch (field 1, repeated
bytes), so the v2 egress machinery (:class:`~.egress.EgressService`) writes them unchanged.
``egress`` counts envelopes sent; the ``subscriptions`` gauge counts v1 and v2 subscriptions
together, as upstream's.
"""

from __future__ import annotations

import logging

import grpc

from lgr.core._proto.plumbing import doppler_pb2
from lgr.core.apps.router.egress import EgressService, SubscriberStream
from lgr.core.apps.router.v1_routing import V1Router
from lgr.core.envelope import join_batch
from lgr.core.grpc_server import identity, parse_request
from lgr.core.metrics import Counter, Gauge

SERVICE = "plumbing.Doppler"

log = logging.getLogger("lgr.router")


class _Shard:
    """What a SubscriberStream reads of its request."""

    __slots__ = ("shard_id",)

    def __init__(self, shard_id: str) -> None:
        self.shard_id = shard_id


class _ResponseStream(SubscriberStream):
    """A Subscribe stream: each envelope of a batch goes out wrapped as one Response."""

    async def next_batch(self) -> list[bytes]:
        return [join_batch((env,)) for env in await super().next_batch()]


class GaugePart:
    """One contributor to a gauge that shows the sum of its parts (v1 and v2 subscriptions)."""

    def __init__(self, gauge: Gauge, parts: list[GaugePart]) -> None:
        self._gauge = gauge
        self._parts = parts
        self.value = 0.0
        parts.append(self)

    @classmethod
    def split(cls, gauge: Gauge, n: int) -> list[GaugePart]:
        """``n`` parts whose sum ``gauge`` shows."""
        parts: list[GaugePart] = []
        for _ in range(n):
            cls(gauge, parts)
        return parts

    def set(self, value: float) -> None:
        """Set this part; the gauge becomes the sum of every part."""
        self.value = float(value)
        self._gauge.set(sum(p.value for p in self._parts))


class DopplerService(EgressService):
    """Handlers of plumbing.Doppler serving subscriptions of ``router``."""

    def __init__(self, router: V1Router, buffer_size: int, egress: Counter, dropped: Counter,
                 subscriptions: Gauge | GaugePart, buffer_bytes: int | None = None) -> None:
        super().__init__(None, buffer_size, egress, dropped,  # type: ignore[arg-type]
                         subscriptions, buffer_bytes)  # type: ignore[arg-type]
        self._router = router

    def handler(self) -> grpc.GenericRpcHandler:
        """The generic handler to register on a grpc.aio server."""
        return grpc.method_handlers_generic_handler(SERVICE, {
            "Subscribe": grpc.unary_stream_rpc_method_handler(
                self.Subscribe, request_deserializer=identity, response_serializer=identity),
            "BatchSubscribe": grpc.unary_stream_rpc_method_handler(
                self.BatchSubscribe, request_deserializer=identity,
                response_serializer=identity),
        })

    async def Subscribe(  # noqa: N802 - the proto's method name
        self, data: bytes, context: grpc.aio.ServicerContext
    ) -> None:
        """Stream one Response per envelope the request selects until the client leaves."""
        request = await parse_request(doppler_pb2.SubscriptionRequest, data, context)
        await self._serve(self._open_v1(request, _ResponseStream), context, batched=False)

    async def BatchSubscribe(  # noqa: N802
        self, data: bytes, context: grpc.aio.ServicerContext
    ) -> None:
        """Stream BatchResponses of the envelopes the request selects until the client leaves."""
        request = await parse_request(doppler_pb2.SubscriptionRequest, data, context)
        await self._serve(self._open_v1(request, SubscriberStream), context, batched=True)

    def _open_v1(self, request: doppler_pb2.SubscriptionRequest,
                 kind: type[SubscriberStream]) -> SubscriberStream:
        stream = kind(self._next_id(), _Shard(request.shardID),  # type: ignore[arg-type]
                      self._buffer_size, self._dropped, self._buffer_bytes)
        stream.closing = self._closing
        stream.subscription = self._router.subscribe(  # type: ignore[assignment]
            request, stream.diode.put_many)
        self._add(stream)
        log.debug("v1 subscription %d opened: %s", stream.id, stream.subscription)
        return stream
