"""Read handler: ``/v2/read`` streams the RLP's batches to an HTTP client as server-sent events.

The order of checks is upstream's (auth middleware, then the handler): authorization first, for
any method (every refusal is a 404); then the method (405); then the query (400); then a 200
``text/event-stream`` response whose headers go out at once. Each batch from the RLP becomes one
``data:`` event; after ``heartbeat`` seconds without one an ``event: heartbeat`` goes out; at
``stream_timeout`` an ``event: closing`` ends the stream. When the RLP stream ends or fails the
response ends too (upstream does the same; clients reconnect). Envelopes from the RLP that do
not parse are skipped and counted in ``malformed``; the rest of their batch is sent.

lgr additions: past LGR_GATEWAY_MAX_STREAMS in all, or LGR_GATEWAY_MAX_STREAMS_PER_TOKEN for one
token, a request gets 429 (:mod:`.limits`). The RLP stream is opened before the 200 goes out, so
when the RLP refuses it (RESOURCE_EXHAUSTED: 503; anything else: 502) the client gets that status
instead of upstream's 200 with an empty stream; an RLP that does not answer within
:data:`OPEN_WAIT` seconds (restarting, say) gets the 200 anyway, then heartbeats until it is back.
Every refusal is counted in ``rejected_streams{reason}``.

Backpressure as upstream: one batch at a time is handed from the RLP stream to the writer, so a
slow client slows its own gRPC stream and the RLP drops for it, never the gateway.
"""

from __future__ import annotations

import asyncio
import logging

import grpc
from aiohttp import web

from lgr.core._proto.loggregator.v2 import egress_pb2
from lgr.core.apps.gateway import errors, sse
from lgr.core.apps.gateway.limits import StreamLimits
from lgr.core.apps.gateway.metrics import GatewayMetrics
from lgr.core.apps.gateway.provider import LogsProvider
from lgr.core.apps.gateway.query import build_request, parse_query
from lgr.core.auth import Authorizer

log = logging.getLogger("lgr.gateway")

_END = object()  # the RLP stream ended
OPEN_WAIT = 2.0  # seconds to wait for the RLP to accept a stream before answering 200 anyway
REFUSAL_LOG_INTERVAL = 10.0  # seconds between log lines about the RLP refusing streams


class ReadHandler:
    """The aiohttp handler for ``/v2/read``; :meth:`shutdown` ends every open stream."""

    def __init__(self, provider: LogsProvider, authorizer: Authorizer, metrics: GatewayMetrics,
                 heartbeat: float, stream_timeout: float, limits: StreamLimits) -> None:
        self._provider = provider
        self.limits = limits
        self._auth = authorizer
        self._m = metrics
        self._heartbeat = heartbeat
        self._stream_timeout = stream_timeout
        self._shutdown = asyncio.Event()
        self.open_streams = 0
        self._refusal_logged = float("-inf")

    def shutdown(self) -> None:
        """Ask every open stream to end now."""
        self._shutdown.set()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer one /v2/read request (any method)."""
        query = parse_query(request.rel_url.raw_query_string)
        decision = await self._auth.check_gateway(request.headers.get("Authorization"),
                                                  query.get("source_id", []))
        if not decision.allowed:
            return web.Response(status=decision.status, headers=decision.headers,
                                body=decision.body)
        if request.method != "GET":
            self._m.bad_requests.inc()
            return _error(errors.METHOD_NOT_ALLOWED)
        try:
            egress_request = build_request(query)
        except errors.JsonError as exc:
            self._m.bad_requests.inc()
            return _error(exc)
        key = self.limits.key(request.headers.get("Authorization"))
        refusal = self.limits.acquire(key)
        if refusal is not None:
            reason = "max_streams" if refusal.name == "too_many_streams" else \
                "max_streams_per_token"
            self._m.rejected_streams[reason].inc()
            return _error(refusal)
        self.open_streams += 1
        self._m.streams.inc()
        call = self._provider.stream(egress_request)
        response = web.StreamResponse(status=200, headers=sse.HEADERS)
        try:
            refusal = await _opened(call)
            if refusal is not None:
                self._m.rejected_streams["logs_provider"].inc()
                now = asyncio.get_running_loop().time()
                if now - self._refusal_logged >= REFUSAL_LOG_INTERVAL:
                    self._refusal_logged = now
                    log.warning("%s (%s)", refusal.message, refusal.name)
                return _error(refusal)
            await response.prepare(request)
            await self._stream(response, call)
        except ConnectionError:
            pass  # the client went away; _stream cleaned up
        finally:
            # Nothing awaited: a cancellation (the client left) cannot skip it.
            call.cancel()
            self.limits.release(key)
            self.open_streams -= 1
            self._m.streams.dec()
        return response

    async def _stream(self, response: web.StreamResponse, call: grpc.aio.UnaryStreamCall) -> None:
        loop = asyncio.get_running_loop()
        batches: asyncio.Queue = asyncio.Queue(maxsize=1)
        reader = asyncio.ensure_future(self._read(call, batches))
        stopping = asyncio.ensure_future(self._shutdown.wait())
        getter: asyncio.Future | None = None
        deadline = loop.time() + self._stream_timeout
        beat_at = loop.time() + self._heartbeat
        try:
            while True:
                if getter is None:
                    getter = asyncio.ensure_future(batches.get())
                timeout = max(0.0, min(deadline, beat_at) - loop.time())
                done, _ = await asyncio.wait({getter, stopping}, timeout=timeout,
                                             return_when=asyncio.FIRST_COMPLETED)
                if stopping in done:
                    return
                if getter in done:
                    item, getter = getter.result(), None
                    if item is _END:
                        return
                    try:
                        await response.write(sse.batch_frame(item.batch))
                    except BaseException:
                        self._m.dropped.inc(len(item.batch))
                        raise
                    self._m.egress.inc(len(item.batch))
                    beat_at = loop.time() + self._heartbeat
                    continue
                now = loop.time()
                if now >= deadline:
                    await response.write(sse.CLOSING)
                    self._m.stream_timeouts.inc()
                    return
                if now >= beat_at:
                    await response.write(sse.heartbeat_frame())
                    self._m.heartbeats.inc()
                    beat_at = now + self._heartbeat
        finally:
            # Count what was taken but not written before awaiting anything: a second
            # cancellation (the client left) may interrupt the awaits below. A batch the reader
            # is still putting is counted by the reader itself.
            call.cancel()
            for task in (reader, stopping, getter):
                if task is not None:
                    task.cancel()
            held = [getter.result()] if getter is not None and getter.done() \
                and not getter.cancelled() else []
            while not batches.empty():
                held.append(batches.get_nowait())
            self._m.dropped.inc(sum(len(item.batch) for item in held if item is not _END))
            await asyncio.gather(reader, stopping, *([getter] if getter else []),
                                 return_exceptions=True)

    async def _read(self, call: grpc.aio.UnaryStreamCall, batches: asyncio.Queue) -> None:
        try:
            async for batch in call:
                if batch.malformed:
                    self._m.malformed.inc(batch.malformed)
                if not batch.batch:
                    continue
                self._m.ingress.inc(len(batch.batch))
                try:
                    await batches.put(batch)
                except asyncio.CancelledError:
                    self._m.dropped.inc(len(batch.batch))  # the client left meanwhile
                    raise
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                log.warning("error getting logs from provider: %s: %s", exc.code().name,
                            exc.details())
        await batches.put(_END)


async def _opened(call: grpc.aio.UnaryStreamCall) -> errors.JsonError | None:
    """Wait up to OPEN_WAIT for the RLP to accept ``call`` (initial metadata); the error to
    answer when it refused it instead, None when it accepted or is still silent."""
    opened = asyncio.ensure_future(call.initial_metadata())
    # Not cancelled on timeout: the wait ends by itself with the call.
    await asyncio.wait({opened}, timeout=OPEN_WAIT)
    if not call.done():
        return None
    code = await call.code()
    if code in (grpc.StatusCode.OK, grpc.StatusCode.CANCELLED):
        return None  # ended at once (a stopping RLP): the stream below ends at once too
    return errors.provider_refused(code.name, await call.details() or "")


def _error(exc: errors.JsonError) -> web.Response:
    return web.Response(status=exc.status, headers=errors.ERROR_HEADERS, body=exc.body)


async def page_not_found(request: web.Request) -> web.Response:
    """Go's NotFound answer for every path but /v2/read."""
    return web.Response(status=404, headers=errors.ERROR_HEADERS, body=errors.PAGE_NOT_FOUND_BODY)
