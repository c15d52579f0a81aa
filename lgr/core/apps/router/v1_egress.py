"""Router v1 egress: upstream's ``plumbing.Doppler`` service (Subscribe, BatchSubscribe).

Each call subscribes its SubscriptionRequest (:mod:`.v1_routing`) with its own drop-oldest buffer
of EGRESS_BUFFER_SIZE envelopes; a subscriber that reads slowly only fills its own buffer, whose
drops are counted in ``dropped{direction="egress"}``, as upstream's DopplerServer counts them.
Subscribe sends one ``Response{payload}`` per envelope; BatchSubscribe sends what the buffer
holds as one ``BatchResponse{payload...}`` (up to 100 envelopes, more when the stream has fallen
behind: :mod:`lgr.core.batching`), cut so that no message carries much more than
:data:`MAX_BATCH_BYTES` (upstream's peers keep gRPC's 4 MiB receive limit). Both responses have
the wire form of an EnvelopeBatch (field 1, repeated bytes), so ``envelope.join_batch`` builds
them from the envelopes' bytes. ``egress`` counts envelopes sent; the ``subscriptions`` gauge
counts v1 and v2 subscriptions together, as upstream's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import NamedTuple

import grpc

from lgr.core._proto.plumbing import doppler_pb2
from lgr.core.apps.router.egress import SubscriberStream
from lgr.core.apps.router.v1_routing import V1Router
from lgr.core.batching import BACKLOG_BATCH_BYTES
from lgr.core.egress_service import EgressServiceBase
from lgr.core.envelope import join_batch
from lgr.core.grpc_server import identity, parse_request
from lgr.core.metrics import Counter, Gauge

SERVICE = "plumbing.Doppler"
MAX_BATCH_BYTES = BACKLOG_BATCH_BYTES

log = logging.getLogger("lgr.router")


class _Shard(NamedTuple):
    shard_id: str


def split_by_size(items: list[bytes], limit: int = MAX_BATCH_BYTES) -> Iterator[list[bytes]]:
    """``items`` in order, in runs of at most ``limit`` bytes (an item larger alone is one run)."""
    start, size = 0, 0
    for i, item in enumerate(items):
        if size and size + len(item) > limit:
            yield items[start:i]
            start, size = i, 0
        size += len(item)
    if start < len(items):
        yield items[start:]


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


class DopplerService(EgressServiceBase[SubscriberStream]):
    """Handlers of plumbing.Doppler serving subscriptions of ``router``."""

    def __init__(self, router: V1Router, buffer_size: int, egress: Counter, dropped: Counter,
                 subscriptions: Gauge | GaugePart) -> None:
        super().__init__(subscriptions)  # type: ignore[arg-type]
        self._router = router
        self._buffer_size = buffer_size
        self._egress = egress
        self._dropped = dropped

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
        await self._serve(data, context, batched=False)

    async def BatchSubscribe(  # noqa: N802
        self, data: bytes, context: grpc.aio.ServicerContext
    ) -> None:
        """Stream BatchResponses of the envelopes the request selects until the client leaves."""
        await self._serve(data, context, batched=True)

    async def _serve(self, data: bytes, context: grpc.aio.ServicerContext, *,
                     batched: bool) -> None:
        request = await parse_request(doppler_pb2.SubscriptionRequest, data, context)
        stream = SubscriberStream(self._next_id(), _Shard(request.shardID),  # type: ignore[arg-type]
                                  self._buffer_size, self._dropped)
        stream.closing = self._closing
        stream.subscription = self._router.subscribe(  # type: ignore[assignment]
            request, stream.diode.put_many)
        self._add(stream)
        log.debug("v1 subscription %d opened: %s", stream.id, stream.subscription)
        egress = self._egress
        try:
            await context.send_initial_metadata(())
            while batch := await stream.next_batch():
                if batched:
                    for part in split_by_size(batch):
                        await context.write(join_batch(part))
                        egress.inc(len(part))
                    continue
                for env in batch:
                    await context.write(join_batch((env,)))
                    egress.inc(1)
        finally:
            if stream.subscription is not None:
                stream.subscription.unsubscribe()
            if self._remove(stream):
                log.debug("v1 subscription %d closed (%d dropped)", stream.id, stream.dropped)

    def _end_stream(self, stream: SubscriberStream) -> None:
        stream.closing = True
