"""HTTP server: how every lgr aiohttp server listens, with a bound on how long a request's headers take.

The log cache, the traffic controller and the rlp gateway serve aiohttp applications. aiohttp
keeps a connection whose request is half sent for as long as its keep-alive timer (an hour), so a
client that sends half its headers and waits, a few thousand times, holds every socket the server
may open. :class:`HttpServer` closes such a connection once ``header_timeout`` seconds have passed
from its first byte (or from its opening, when nothing comes) without a complete request; each such
close is counted in ``http_header_timeouts``. A request whose headers arrived may take as long as
its handler needs (streams, websockets); a body the handler leaves unread is bounded by aiohttp's
lingering time, and an idle keep-alive connection by :data:`IDLE_TIMEOUT`. Go's servers have the
same knobs (``ReadHeaderTimeout``, ``IdleTimeout``); upstream's set them or sit behind the CF router.

Each server's config carries the bound as a field declared by
lgr.core.settings.header_timeout_setting.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any

from aiohttp import web

from lgr.core.errors import UnavailableError
from lgr.core.metrics import Counter, Registry
from lgr.core.tls_failures import counted
from lgr.core.settings import DEFAULT_HEADER_TIMEOUT, HEADER_TIMEOUTS_METRIC

IDLE_TIMEOUT = 75.0  # seconds an idle keep-alive connection is kept (aiohttp's run_app default)

log = logging.getLogger("lgr.http")


class HttpServer:
    """Serve ``app`` on host:port (0: any free port) with ``ssl_context`` when given.

    ``runner_options`` go to aiohttp's AppRunner (access log, shutdown timeout, ...); ``env``
    names the setting to change when the port cannot be bound.
    """

    def __init__(self, app: web.Application, host: str, port: int, *, registry: Registry,
                 component: str, env: str, ssl_context: ssl.SSLContext | None = None,
                 header_timeout: float = DEFAULT_HEADER_TIMEOUT, **runner_options: Any) -> None:
        self.host, self.port = host, port
        self.component, self.env = component, env
        self.ssl_context = counted(ssl_context, registry, "https")
        self.timeouts = registry.counter(
            HEADER_TIMEOUTS_METRIC, "Connections closed because a request's headers did not arrive within "
            "the header timeout")
        self._guard = _HeaderGuard(header_timeout, self.timeouts)
        app.middlewares.insert(0, self._guard.middleware)
        runner_options.setdefault("handle_signals", False)
        runner_options.setdefault("keepalive_timeout", IDLE_TIMEOUT)
        self.runner: web.AppRunner | None = _GuardedRunner(app, self._guard, **runner_options)

    async def start(self) -> int:
        """Bind and serve; returns the bound port. UnavailableError naming ``env`` when taken."""
        assert self.runner is not None
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port, ssl_context=self.ssl_context,
                           reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            raise UnavailableError(
                f"{self.component} could not bind {self.host}:{self.port}: {exc.strerror or exc}",
                hint=f"choose another {self.env}") from exc
        self.port = self.runner.addresses[0][1]
        return self.port

    async def stop(self) -> None:
        """Stop serving and close every connection (idempotent)."""
        if self.runner is not None:
            runner, self.runner = self.runner, None
            await runner.cleanup()
        self._guard.cancel_all()


class _GuardedRunner(web.AppRunner):
    """An AppRunner whose sites make connections watched by a :class:`_HeaderGuard`."""

    def __init__(self, app: web.Application, guard: _HeaderGuard, **options: Any) -> None:
        super().__init__(app, **options)
        self._guard = guard

    @property
    def server(self):  # noqa: ANN201 - the protocol factory sites listen with
        inner = super().server
        if inner is None:
            return None
        guard = self._guard
        return lambda: _Watched(inner(), guard)


class _HeaderGuard:
    """Times the header phase of each connection: from its opening or from the first byte after a
    request, until a request reaches the application (its ``middleware`` sees it)."""

    def __init__(self, timeout: float, counter: Counter) -> None:
        self.timeout = timeout
        self.counter = counter
        self.watched: dict[object, _Watched] = {}  # aiohttp's protocol -> our wrapper

    @web.middleware
    async def middleware(self, request: web.Request, handler):  # noqa: ANN001, ANN201
        watched = self.watched.get(request.protocol)
        if watched is None:
            return await handler(request)
        watched.busy += 1
        watched.disarm()
        try:
            return await handler(request)
        finally:
            watched.busy -= 1

    def cancel_all(self) -> None:
        for watched in list(self.watched.values()):
            watched.disarm()
        self.watched.clear()


class _Watched(asyncio.Protocol):
    """aiohttp's protocol for one connection, with the header timer around it."""

    def __init__(self, inner: asyncio.Protocol, guard: _HeaderGuard) -> None:
        self.inner = inner
        self.guard = guard
        self.busy = 0  # requests of this connection in the application
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None

    def arm(self) -> None:
        if self.timer is None and self.transport is not None:
            loop = asyncio.get_running_loop()
            self.timer = loop.call_later(self.guard.timeout, self.expired)

    def disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def expired(self) -> None:
        self.timer = None
        if self.busy or self.transport is None:
            return
        self.guard.counter.inc()
        peer = self.transport.get_extra_info("peername")
        log.info("closed a connection from %s: no complete request within %gs", peer, self.guard.timeout)
        self.transport.abort()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.guard.watched[self.inner] = self
        self.inner.connection_made(transport)
        self.arm()

    def data_received(self, data: bytes) -> None:
        if not self.busy:
            self.arm()
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.disarm()
        self.guard.watched.pop(self.inner, None)
        self.transport = None
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()
