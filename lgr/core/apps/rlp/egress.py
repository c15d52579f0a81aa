"""RLP egress: the v2 Egress service consumers read; checks requests, then serves merged streams.

As upstream's RLP: a stream past MAX_EGRESS_STREAMS gets RESOURCE_EXHAUSTED (and counts in
``rejected_streams``); the request's ``legacy_selector`` becomes its selector when it has no
others; no selectors, or a selector without a message type, gets INVALID_ARGUMENT naming the
problem. BatchedReceiver sends EnvelopeBatches of up to 100 as soon as envelopes are there;
Receiver sends them one by one. Both pass shard_id, deterministic_name, selectors and
use_preferred_tags through to every router.
"""

from __future__ import annotations

import grpc

from lgr.core._proto.loggregator.v2 import egress_pb2
from lgr.core.apps.rlp.consumer import ConsumerStream
from lgr.core.apps.rlp.metrics import RlpMetrics
from lgr.core.drops import wants_reports
from lgr.core.egress_service import EgressServiceBase
from lgr.core.errors import InvalidSelectorError
from lgr.core.grpc_server import parse_request
from lgr.core.router_pool import RouterPool
from lgr.core.selectors import validate


class EgressService(EgressServiceBase[ConsumerStream]):
    """Handlers of loggregator.v2.Egress for consumers, reading from ``pool``'s routers."""

    def __init__(self, pool: RouterPool, metrics: RlpMetrics, *, max_streams: int,
                 buffer_size: int, report_source_id: str, buffer_bytes: int | None = None) -> None:
        super().__init__(metrics.subscriptions)
        self._pool = pool
        self._metrics = metrics
        self._max_streams = max_streams
        self._buffer_size = buffer_size
        self._buffer_bytes = buffer_bytes
        self._report_source_id = report_source_id

    async def BatchedReceiver(  # noqa: N802 - the proto's method name
        self, data: bytes, context: grpc.aio.ServicerContext
    ) -> None:
        """Stream EnvelopeBatches from every router until the consumer leaves."""
        request = await parse_request(egress_pb2.EgressBatchRequest, data, context)
        await self._serve(await self._open(request, context), context, batched=True)

    async def Receiver(  # noqa: N802
        self, data: bytes, context: grpc.aio.ServicerContext
    ) -> None:
        """Stream single Envelopes from every router until the consumer leaves."""
        request = await parse_request(egress_pb2.EgressRequest, data, context)
        await self._serve(await self._open(request, context), context, batched=False)

    async def _serve(self, stream: ConsumerStream, context: grpc.aio.ServicerContext, *,
                     batched: bool) -> None:
        egress = self._metrics.egress
        reports = stream.has_reports
        try:
            await self._send(stream, context, batched=batched,
                             sent=lambda envs: egress.inc(len(envs) - reports(envs)))
        finally:
            # Synchronous, so nothing can skip it: grpc.aio cancels the handler (again) when a
            # consumer leaves, and a cancellation delivered at an await here would keep the
            # slot, the router streams and the buffer forever.
            self._close(stream)

    def _end_stream(self, stream: ConsumerStream) -> None:
        stream.close()

    async def _open(self, request: egress_pb2.EgressRequest | egress_pb2.EgressBatchRequest,
                    context: grpc.aio.ServicerContext) -> ConsumerStream:
        if len(self.streams) >= self._max_streams:
            self._metrics.rejected_streams.inc()
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"unable to create stream, max egress streams reached: {self._max_streams}")
        try:
            checked = validate(request)
        except InvalidSelectorError as exc:
            detail = f"{exc.message} ({exc.hint})" if exc.hint else exc.message
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, detail)
        if self._closing:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the reverse log proxy is stopping")
        routed = egress_pb2.EgressBatchRequest(
            shard_id=checked.shard_id,
            deterministic_name=checked.deterministic_name,
            use_preferred_tags=checked.use_preferred_tags,
            selectors=checked.selectors,
        )
        report_to = (self._report_source_id
                     if wants_reports(context.invocation_metadata()) else None)
        stream = ConsumerStream(self._next_id(), routed, self._pool, self._metrics,
                                self._buffer_size, report_source_id=report_to,
                                buffer_bytes=self._buffer_bytes)
        self._add(stream)
        stream.start()
        return stream

    def _close(self, stream: ConsumerStream) -> None:
        stream.discard()
        self._remove(stream)
