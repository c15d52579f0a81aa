"""HTTP handlers: the traffic controller's routes, each behind upstream's access check.

==================================  =========================================================
``/apps/{app_id}/stream``           websocket: the app's envelopes as v1 frames (any method)
``/firehose/{subscription_id}``     websocket: every source's envelopes, ``?filter-type=logs``
                                    or ``metrics``; websockets with one subscription id share it
``/apps/{app_id}/recentlogs``       multipart/x-protobuf: the app's recent logs, newest first
                                    (``?limit=``, default 1000), CORS with credentials
``/apps/{app_id}/containermetrics`` multipart/x-protobuf: newest container metric per instance
``/set-cookie``                     sets the cookie named by the form (CookieName,
                                    CookieValue) for doppler.<system domain>, as upstream
==================================  =========================================================

The token is the ``Authorization`` header, else the URL-unescaped ``authorization`` cookie
(browsers cannot set headers on websockets). Recent logs and container metrics come from the
log cache with the caller's token when LOG_CACHE_ADDR is set (a failed read is a 500 with the
error, counted in ``log_cache_failures``, as upstream), else from the in-memory store.
Refusals are answered exactly as upstream
(lgr.core.auth.decision): the firehose 401 with ``WWW-Authenticate: Basic``; app routes 401
(no or unknown token), 404 (not allowed to read the app) or 500; each counted in
``auth_failures{endpoint,reason}``. A request to a websocket route that is not a websocket
handshake gets 400 after the access check, as gorilla's upgrader answers.
"""

from __future__ import annotations

import logging
import re
import time
import urllib.parse
from collections.abc import Awaitable

from aiohttp import web

from lgr.core._proto.events import envelope_pb2 as v1_envelope_pb2
from lgr.core._proto.events import log_pb2
from lgr.core._proto.plumbing import doppler_pb2
from lgr.core.apps.tc.cache_recent import CacheRecent, bearer_token
from lgr.core.apps.tc.config import TcConfig
from lgr.core.apps.tc.emitter import MetricEmitter
from lgr.core.apps.tc.frames import app_request, firehose_request, v1_frames
from lgr.core.apps.tc.metrics import TcMetrics
from lgr.core.apps.tc.multipart import content_type, multipart_body, new_boundary
from lgr.core.apps.tc.recent import DEFAULT_LIMIT, RecentStore
from lgr.core.router_pool import BATCH_SUBSCRIBE, RouterPool, RouterStream
from lgr.core.apps.tc.websocket import CLOSE_TIMEOUT, WebsocketSession
from lgr.core.auth import Authorizer, Decision
from lgr.core.errors import LgrError

MAX_CLIENT_MESSAGE = 64 * 1024  # clients have nothing to say; upstream reads and discards
NO_LOG_CACHE = b"recent log endpoint requires a log cache. please talk to you operator"
_GO_ATOI = re.compile(r"[+-]?[0-9]+\Z")

log = logging.getLogger("lgr.tc")


def authorization(request: web.BaseRequest) -> str:
    """The request's token: the Authorization header, else the ``authorization`` cookie."""
    header = request.headers.get("Authorization", "")
    if header:
        return header
    cookie = request.cookies.get("authorization", "")
    return urllib.parse.unquote_plus(cookie) if cookie else ""


def refusal(decision: Decision) -> web.Response:
    """The HTTP answer to a refused request, as upstream gives it."""
    headers = dict(decision.headers)
    if decision.status == 401 and "WWW-Authenticate" not in headers:
        headers["WWW-Authenticate"] = "Basic"  # upstream's log access middleware sets it too
    return web.Response(status=decision.status, headers=headers, body=decision.body)


class Handlers:
    """The routes of one traffic controller, sharing its router pool, store and metrics."""

    def __init__(self, config: TcConfig, pool: RouterPool, metrics: TcMetrics, authorizer: Authorizer, store: RecentStore,
                 emitter: MetricEmitter, cache: CacheRecent | None = None) -> None:
        self._config = config
        self._pool = pool
        self._m = metrics
        self._auth = authorizer
        self._store = store
        self._cache = cache
        self._emitter = emitter
        self.sessions: set[WebsocketSession] = set()
        self._closing = False

    def routes(self) -> list[web.RouteDef]:
        """The aiohttp routes."""
        return [
            web.route("*", "/apps/{app_id}/stream", self.stream),
            web.route("*", "/firehose/{subscription_id}", self.firehose),
            web.route("*", "/apps/{app_id}/recentlogs", self.recent_logs),
            web.route("*", "/apps/{app_id}/containermetrics", self.container_metrics),
            web.route("*", "/set-cookie", self.set_cookie),
        ]

    def close(self) -> None:
        """Refuse new websockets and close the open ones with 1001 (going away)."""
        self._closing = True
        for session in list(self.sessions):
            session.shutdown()

    async def stream(self, request: web.Request) -> web.StreamResponse:
        """/apps/{app_id}/stream: the app's envelopes."""
        app_id = request.match_info["app_id"]
        decision = await self._auth.check_app(authorization(request), app_id)
        if not decision.allowed:
            return refusal(decision)
        return await self._serve(request, app_request(app_id), "stream")

    async def firehose(self, request: web.Request) -> web.StreamResponse:
        """/firehose/{subscription_id}: everything, shared among the subscription's sockets."""
        decision = await self._auth.check_firehose(authorization(request))
        if not decision.allowed:
            return refusal(decision)
        subscription = firehose_request(request.match_info["subscription_id"],
                                        request.query.get("filter-type", ""))
        return await self._serve(request, subscription, "firehose")

    async def recent_logs(self, request: web.Request) -> web.StreamResponse:
        """/apps/{app_id}/recentlogs: the app's recent logs as v1 envelopes, newest first."""
        cors = {"Access-Control-Allow-Origin": request.headers.get("Origin", ""),
                "Access-Control-Allow-Credentials": "true"}
        app_id = request.match_info["app_id"]
        decision = await self._auth.check_app(authorization(request), app_id)
        if not decision.allowed:
            response = refusal(decision)
            response.headers.update(cors)
            return response
        if self._cache is not None:
            token = bearer_token(authorization(request))
            parts = await self._from_cache(self._cache.recent_logs(app_id, _limit(request), token))
            if isinstance(parts, web.Response):
                parts.headers.update(cors)
                return parts
        elif self._store.enabled:
            parts = self._store.recent_logs(app_id, _limit(request))
        else:
            parts = [_no_log_cache()]
        self._m.recent_requests.inc()
        return _multipart(parts, cors)

    async def container_metrics(self, request: web.Request) -> web.StreamResponse:
        """/apps/{app_id}/containermetrics: the newest container metric of each instance."""
        app_id = request.match_info["app_id"]
        decision = await self._auth.check_app(authorization(request), app_id)
        if not decision.allowed:
            return refusal(decision)
        if self._cache is not None:
            token = bearer_token(authorization(request))
            parts = await self._from_cache(self._cache.container_metrics(app_id, token))
            if isinstance(parts, web.Response):
                return parts
        else:
            parts = (self._store.container_metrics(app_id) if self._store.enabled
                     else [_no_log_cache()])
        self._m.recent_requests.inc()
        return _multipart(parts, {})

    async def _from_cache(self, read: Awaitable[list[bytes]]) -> list[bytes] | web.Response:
        """The read's frames, or the 500 upstream answers when the log cache fails."""
        try:
            return await read
        except (LgrError, TimeoutError) as exc:
            reason = exc.message if isinstance(exc, LgrError) else "the log cache did not answer in time"
            self._m.log_cache_failures.inc()
            log.warning("error communicating with log cache: %s", reason)
            return web.Response(status=500, text=reason)

    async def set_cookie(self, request: web.Request) -> web.StreamResponse:
        """/set-cookie: sets the cookie the form names, so browsers can pass the token along."""
        headers = {"Access-Control-Allow-Origin": request.headers.get("Origin", ""),
                   "Access-Control-Allow-Credentials": "true",
                   "Access-Control-Allow-Headers": "Content-Type"}
        try:
            form = await request.post()
        except ValueError:
            return web.Response(status=400, headers=headers)
        query = request.query
        name = str(form.get("CookieName", query.get("CookieName", "")))
        value = str(form.get("CookieValue", query.get("CookieValue", "")))
        response = web.Response(status=200, headers=headers)
        if name:
            response.set_cookie(name, value, domain=self._config.cookie_domain or None,
                                secure=True)
        return response

    async def _serve(self, request: web.Request, subscription: doppler_pb2.SubscriptionRequest,
                     endpoint: str) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=False, compress=False, timeout=CLOSE_TIMEOUT,
                                   max_msg_size=MAX_CLIENT_MESSAGE)
        if not ws.can_prepare(request).ok:
            return web.Response(status=400, text="Bad Request\n")
        if self._closing:
            return web.Response(status=503, text="the traffic controller is stopping\n")
        cfg, m = self._config, self._m
        session = WebsocketSession(
            request, ws, buffer_size=cfg.buffer_size, keepalive=cfg.keepalive,
            slow_timeout=cfg.slow_consumer_timeout, egress=m.egress_for(endpoint),
            dropped=m.dropped_egress, expired=m.keepalive_expired, on_slow=self._slow_consumer)

        def on_batch(batch: bytes, _addr: str) -> None:
            session.push(v1_frames(batch, m))

        gauge = m.firehoses if endpoint == "firehose" else m.app_streams
        # Subscribe first, then upgrade, as upstream: frames wait in the session's buffer.
        stream = RouterStream(self._pool, subscription.SerializeToString(), on_batch,
                              m.router_connects, m.router_disconnects, BATCH_SUBSCRIBE)
        stream.start()
        self.sessions.add(session)
        gauge.inc()
        try:
            await ws.prepare(request)
            await session.run()
        finally:
            # Nothing awaited here: a cancellation (the client left) must not skip the cleanup.
            stream.cancel()
            self.sessions.discard(session)
            gauge.dec()
        return ws

    def _slow_consumer(self, title: str, body: str) -> None:
        self._m.slow_consumer.inc()
        self._emitter.emit_event(title, body)


def _limit(request: web.BaseRequest) -> int:
    # Upstream: a missing, unparsable or negative limit means the default.
    values = request.query.getall("limit", [])
    if not values or not _GO_ATOI.match(values[0]) or int(values[0]) < 0:
        return DEFAULT_LIMIT
    return int(values[0])


def _multipart(parts: list[bytes], headers: dict[str, str]) -> web.Response:
    boundary = new_boundary()
    response = web.Response(status=200, body=multipart_body(parts, boundary), headers=headers)
    response.headers["Content-Type"] = content_type(boundary)
    return response


def _no_log_cache() -> bytes:
    now = time.time_ns()
    env = v1_envelope_pb2.Envelope(
        origin="loggregator.trafficcontroller", eventType=v1_envelope_pb2.Envelope.LogMessage,
        timestamp=now)
    env.logMessage.CopyFrom(log_pb2.LogMessage(
        message=NO_LOG_CACHE, message_type=log_pb2.LogMessage.ERR, timestamp=now,
        source_type="Loggregator"))
    return env.SerializeToString()
