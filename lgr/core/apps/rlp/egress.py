"""RLP egress: the v2 Egress service consumers read; checks requests, then serves merged streams.

As upstream's RLP: a stream past MAX_EGRESS_STREAMS gets RESOURCE_EXHAUSTED (and counts in
``rejected_streams``); the request's ``legacy_selector`` becomes its selector when it has no
others; no selectors, or a selector without a message type, gets INVALID_ARGUMENT naming the
problem. BatchedReceiver sends EnvelopeBatches of up to 100 as soon as envelopes are there;
Receiver sends them one by one. Both pass shard_id, deterministic_name, selectors and
use_preferred_tags through to every router.
"""

from __future__ import annotations

import asyncio
import itertools

import grpc

from lgr.core._proto.loggregator.v2 import egress_pb2
from lgr.core.apps.rlp.consumer import ConsumerStream
from lgr.core.apps.rlp.metrics import RlpMetrics
from lgr.core.router_pool import RouterPool
from lgr.core.drops import wants_reports
from lgr.core.envelope import join_batch
from lgr.core.errors import InvalidSelectorError
from lgr.core.grpc_server import identity, parse_request
from lgr.core.selectors import validate

SERVICE = "loggregator.v2.Egress"


class EgressService:
    """Handlers of loggregator.v2.Egress for consumers, reading from ``pool``'s routers."""

    def __init__(self, pool: RouterPool, metrics: RlpMetrics, *, max_streams: int,
                 buffer_size: int, report_source_id: str) -> None:
        self._pool = pool
        self._metrics = metrics
        self._max_streams = max_streams
        self._buffer_size = buffer_size
        self._report_source_id = report_source_id
        self._ids = itertools.count(1)
        self.streams: dict[int, ConsumerStream] = {}
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
        """Stream EnvelopeBatches from every router until the consumer leaves."""
        request = await parse_request(egress_pb2.EgressBatchRequest, data, context)
        stream = await self._open(request, context)
        try:
            await context.send_initial_metadata(())
            egress = self._metrics.egress
            reports = stream.has_reports
            while batch := await stream.next_batch():
                await context.write(join_batch(batch))
                egress.inc(len(batch) - reports(batch))
        finally:
            await self._close(stream)

    async def Receiver(  # noqa: N802
        self, data: bytes, context: grpc.aio.ServicerContext
    ) -> None:
        """Stream single Envelopes from every router until the consumer leaves."""
        request = await parse_request(egress_pb2.EgressRequest, data, context)
        stream = await self._open(request, context)
        try:
            await context.send_initial_metadata(())
            egress = self._metrics.egress
            reports = stream.has_reports
            while batch := await stream.next_batch():
                for env in batch:
                    await context.write(env)
                egress.inc(len(batch) - reports(batch))
        finally:
            await self._close(stream)

    def close(self) -> None:
        """End every stream once it has sent what it holds."""
        self._closing = True
        for stream in list(self.streams.values()):
            stream.close()

    async def drained(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for every stream to end; True if they all did."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

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
        stream = ConsumerStream(next(self._ids), routed, self._pool, self._metrics,
                                self._buffer_size, report_source_id=report_to)
        self.streams[stream.id] = stream
        self._idle.clear()
        self._metrics.subscriptions.set(len(self.streams))
        stream.start()
        return stream

    async def _close(self, stream: ConsumerStream) -> None:
        await stream.stop()
        if self.streams.pop(stream.id, None) is not None:
            self._metrics.subscriptions.set(len(self.streams))
        if not self.streams:
            self._idle.set()
