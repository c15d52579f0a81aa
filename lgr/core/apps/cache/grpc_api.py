"""gRPC API: log cache's own services, as upstream's store serves them to its gateway and clients.

``logcache.v1.Egress`` (Read, Meta), ``logcache.v1.Ingress`` (Send) and
``logcache.v1.PromQLQuerier`` (InstantQuery, RangeQuery), over mutual TLS with the server name
upstream's clients check ("log-cache"). There is no token check here, as upstream's store has
none: its HTTP front (cf-auth-proxy) authorizes, and this API trusts every client whose
certificate the CA signed.

Answers are upstream's, but for the status of a client's mistake: Read applies the same defaults
and refusals as the HTTP API (lgr.core.apps.cache.reads), and a refused read or a query the
client got wrong (promql's ``bad_data``) ends the call with INVALID_ARGUMENT and upstream's
message where upstream's plain Go error gives UNKNOWN; a query that fails while running ends with
UNKNOWN, as upstream's does; a request that does not parse ends with INVALID_ARGUMENT. Sample
times are Unix seconds with three decimals, as text.
"""

from __future__ import annotations

import time

import grpc

from lgr.core import envelope
from lgr.core._proto.logcache.v1 import egress_pb2, ingress_pb2, promql_pb2
from lgr.core.apps.cache import promql, reads
from lgr.core.apps.cache.metrics import CacheMetrics
from lgr.core.apps.cache.promql_parser import MATRIX, SCALAR
from lgr.core.apps.cache.store import Store
from lgr.core.batching import FRAMING, fit
from lgr.core.grpc_server import identity, parse_request
from lgr.core.tls import MAX_MESSAGE_BYTES

PromQL = promql_pb2.PromQL
SEND_RESPONSE = ingress_pb2.SendResponse().SerializeToString()


class GrpcApi:
    """The cache's gRPC services over ``store``; ``handlers()`` registers them on a server."""

    def __init__(self, store: Store, engine: promql.Engine, metrics: CacheMetrics) -> None:
        self.store = store
        self.engine = engine
        self.metrics = metrics

    def handlers(self) -> list[grpc.GenericRpcHandler]:
        """The generic handlers of Egress, Ingress and PromQLQuerier."""
        def unary(method):  # noqa: ANN001, ANN202
            return grpc.unary_unary_rpc_method_handler(
                method, request_deserializer=identity, response_serializer=identity)

        return [
            grpc.method_handlers_generic_handler("logcache.v1.Egress", {
                "Read": unary(self.Read), "Meta": unary(self.Meta)}),
            grpc.method_handlers_generic_handler("logcache.v1.Ingress", {"Send": unary(self.Send)}),
            grpc.method_handlers_generic_handler("logcache.v1.PromQLQuerier", {
                "InstantQuery": unary(self.InstantQuery), "RangeQuery": unary(self.RangeQuery)}),
        ]

    async def Read(self, data: bytes, context: grpc.aio.ServicerContext) -> bytes:  # noqa: N802
        """ReadResponse: the envelopes of one source id, as the HTTP read selects them."""
        req = await parse_request(egress_pb2.ReadRequest, data, context)
        query = reads.ReadQuery(req.source_id, req.start_time, req.end_time, req.limit,
                                list(req.envelope_types), req.descending, req.name_filter)
        try:
            envs = reads.read(self.store, query)
        except reads.ReadError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        self.metrics.sync(self.store)
        # A page must fit in one gRPC message: it ends before the envelope that would not fit
        # (the client reads on from the last timestamp); one too large for any page is skipped.
        runs, _ = fit(envs, MAX_MESSAGE_BYTES - FRAMING)
        # ReadResponse is one length-delimited field 1 holding the EnvelopeBatch: the wire shape
        # of a batch of one, so the envelopes go out as the bytes the store holds.
        return envelope.join_batch([envelope.join_batch(runs[0] if runs else [])])

    async def Meta(self, data: bytes, context: grpc.aio.ServicerContext) -> bytes:  # noqa: N802
        """MetaResponse: count, expired, oldest and newest timestamp of every source id."""
        await parse_request(egress_pb2.MetaRequest, data, context)
        response = egress_pb2.MetaResponse()
        for sid, m in self.store.meta().items():
            info = response.meta[sid]
            info.count, info.expired = m.count, m.expired
            info.oldest_timestamp, info.newest_timestamp = m.oldest_timestamp, m.newest_timestamp
        return response.SerializeToString()

    async def Send(self, data: bytes, context: grpc.aio.ServicerContext) -> bytes:  # noqa: N802
        """Store a batch; answer once it is stored (``local_only`` changes nothing: one node)."""
        # A batch with an envelope that does not parse is refused whole, as upstream's unmarshal.
        req = await parse_request(ingress_pb2.SendRequest, data, context, self.metrics.malformed)
        self.store.put_envelopes(req.envelopes.batch)
        self.metrics.sync(self.store)
        return SEND_RESPONSE

    async def InstantQuery(self, data: bytes, context: grpc.aio.ServicerContext) -> bytes:  # noqa: N802
        """A PromQL instant query: a scalar, a vector or a matrix."""
        req = await parse_request(PromQL.InstantQueryRequest, data, context)
        started = time.monotonic()
        try:
            result = await self.engine.instant_result(promql.parse_query(req.query), req.time)
        except promql.QueryError as exc:
            await self._refuse(exc, context)
        finally:
            self.metrics.instant_query_time.set((time.monotonic() - started) * 1000)
        out = PromQL.InstantQueryResult()
        if result.type == SCALAR:
            t, value = result.value  # type: ignore[misc]
            out.scalar.time, out.scalar.value = promql.format_time(t), value
        elif result.type == MATRIX:
            _fill_matrix(out.matrix, result.value)  # type: ignore[arg-type]
        else:
            out.vector.SetInParent()
            for labels, t, value in result.value:  # type: ignore[misc]
                sample = out.vector.samples.add()
                sample.metric.update(labels)
                sample.point.time, sample.point.value = promql.format_time(t), value
        return out.SerializeToString()

    async def RangeQuery(self, data: bytes, context: grpc.aio.ServicerContext) -> bytes:  # noqa: N802
        """A PromQL range query: a matrix."""
        req = await parse_request(PromQL.RangeQueryRequest, data, context)
        started = time.monotonic()
        try:
            series = await self.engine.range_result(promql.parse_query(req.query), req.start,
                                                    req.end, req.step)
        except promql.QueryError as exc:
            await self._refuse(exc, context)
        finally:
            self.metrics.range_query_time.set((time.monotonic() - started) * 1000)
        out = PromQL.RangeQueryResult()
        _fill_matrix(out.matrix, series)
        return out.SerializeToString()

    async def _refuse(self, exc: promql.QueryError, context: grpc.aio.ServicerContext) -> None:
        if exc.kind == promql.INTERNAL:
            self.metrics.promql_errors.inc()
            await context.abort(grpc.StatusCode.UNKNOWN, exc.message)
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, exc.message)


def _fill_matrix(matrix: PromQL.Matrix, series: list[promql.Series]) -> None:
    matrix.SetInParent()
    for labels, points in series:
        s = matrix.series.add()
        s.metric.update(labels)
        for t, value in points:
            point = s.points.add()
            point.time, point.value = promql.format_time(t), value
