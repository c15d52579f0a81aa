"""Traffic controller app: an aiohttp server for websockets and HTTP, wired to every router.

Wiring: one mTLS channel per router (lgr.core.router_pool); each websocket opens its own
v1 ``Doppler/BatchSubscribe`` on every router (:mod:`.handlers`, :mod:`.websocket`), as
upstream's controller does, with the subscription id as shard id for the firehose, and sends the
v1 envelopes as the routers sent them, one per frame (:mod:`.frames`); recent logs
and container metrics are read from the log cache at LOG_CACHE_ADDR with the caller's token
(:mod:`.cache_recent`), or, when none is configured, from an in-memory store fed by one more
subscription to the routers (:mod:`.recent`), which only knows what arrived since the controller
started; the controller's metrics and slow-consumer events go to the agent (:mod:`.emitter`);
access is decided by lgr.core.auth from the tokens file or UAA/CAPI (:mod:`.config`).

The server speaks HTTPS/WSS with TRAFFIC_CONTROLLER_OUTGOING_{CERT,KEY}_FILE (upstream's
``http.ServeTLS``: a server certificate, no client certificate), else plain HTTP/WS on loopback.
"""

from __future__ import annotations

import asyncio
import logging
import ssl

from aiohttp import web

from lgr.core.apps.tc.cache_recent import CacheRecent
from lgr.core.apps.tc.config import TcConfig
from lgr.core.apps.tc.emitter import MetricEmitter
from lgr.core.apps.tc.frames import FrameEncoder
from lgr.core.apps.tc.handlers import Handlers
from lgr.core.apps.tc.metrics import TcMetrics
from lgr.core.apps.tc.recent import RecentStore
from lgr.core.auth import Authorizer, build_authorizer
from lgr.core.component import Component
from lgr.core.grpc_server import format_address
from lgr.core.http_server import HttpServer
from lgr.core.metrics import Registry
from lgr.core.metrics_server import MetricsServer
from lgr.core.tls_failures import counted
from lgr.core.router_pool import RouterPool, RouterStream
from lgr.core.settings import METRICS_TLS_ENV
from lgr.core.tls import (
    client_credentials,
    https_server_context,
    server_ssl_context,
)

SHUTDOWN_TIMEOUT = 1.0  # seconds aiohttp gives open requests after the sessions were closed

log = logging.getLogger("lgr.tc")


class TrafficController(Component):
    """The traffic controller; ``await start()`` binds ``config.port`` (0: any), sets address."""

    name = "tc"

    def __init__(self, config: TcConfig) -> None:
        super().__init__()
        self.config = config
        self.port: int | None = None
        self.metrics = Registry()
        self.m = TcMetrics(self.metrics)
        self.encoder = FrameEncoder(self.m)
        self.store = RecentStore(config.recent_logs, config.recent_apps, self.encoder)
        self.pool: RouterPool | None = None
        self.authorizer: Authorizer | None = None
        self.emitter: MetricEmitter | None = None
        self.handlers: Handlers | None = None
        self.cache: CacheRecent | None = None
        self._recent: RouterStream | None = None
        self._http: HttpServer | None = None
        self._metrics_server: MetricsServer | None = None

    @property
    def url(self) -> str:
        """ws://host:port (wss:// with a certificate), once started."""
        return f"{'wss' if self.config.serves_tls else 'ws'}://{self.address}"

    @property
    def http_url(self) -> str:
        """http://host:port (https:// with a certificate), once started."""
        return f"{'https' if self.config.serves_tls else 'http'}://{self.address}"

    @property
    def metrics_url(self) -> str | None:
        """https://host:port/metrics, once started with metrics on."""
        return self._metrics_server.url if self._metrics_server else None

    async def _start(self) -> None:
        cfg = self.config
        creds = client_credentials(cfg.ca_file, cfg.cert_file, cfg.key_file, env=cfg.tls_env)
        outgoing = outgoing_ssl_context(cfg) if cfg.serves_tls else None
        metrics_ssl = (server_ssl_context(*cfg.metrics_tls, env=METRICS_TLS_ENV)
                       if cfg.metrics_port != -1 else None)
        cache = CacheRecent.from_config(cfg, self.encoder) if cfg.log_cache_url else None
        self.authorizer = build_authorizer(cfg.auth_options(), self.metrics)
        self.cache = cache
        self.pool = RouterPool(cfg.router_addrs, creds, component=self.name)
        self.emitter = MetricEmitter(self.metrics, cfg.agent_addr, creds, cfg.metric_interval)
        self.handlers = Handlers(cfg, self.pool, self.m, self.authorizer,
                                 self.store, self.emitter, cache)
        app = web.Application()
        app.add_routes(self.handlers.routes())
        self._http = HttpServer(app, cfg.host, cfg.port, registry=self.metrics, component="tc",
                                env="TRAFFIC_CONTROLLER_OUTGOING_DROPSONDE_PORT",
                                ssl_context=outgoing, header_timeout=cfg.header_timeout,
                                access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
        try:
            self.port = await self._http.start()
            self.address = format_address(cfg.host, self.port)
            log.info("tc ws bound to: %s", self.address)
            if metrics_ssl is not None:
                metrics_ssl = counted(metrics_ssl, self.metrics, "metrics")
                self._metrics_server = MetricsServer(
                    self.metrics.render_prometheus, cfg.host, cfg.metrics_port, metrics_ssl,
                    component=self.name)
                await self._metrics_server.start()
            await self.emitter.start()
        except BaseException:
            await self._release()
            raise
        if self.store.enabled and self.cache is None:
            accept = self.store.accept
            self._recent = RouterStream(
                self.pool, self.store.request().SerializeToString(),
                lambda batch, _addr: accept(batch), self.m.router_connects, self.m.router_disconnects)
            self._recent.start()

    async def _stop(self, grace: float) -> None:
        # Close the websockets (1001), give them a moment, then stop serving and reading.
        if self.handlers is not None:
            self.handlers.close()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + max(grace, 0.1)
            while self.handlers.sessions and loop.time() < deadline:
                await asyncio.sleep(0.02)
        await self._release()

    async def _release(self) -> None:
        if self._http is not None:
            await self._http.stop()
            self._http = None
        if self._recent is not None:
            await self._recent.stop()
            self._recent = None
        if self.pool is not None:
            await self.pool.close()
        if self.emitter is not None:
            await self.emitter.close()
        if self.authorizer is not None:
            await self.authorizer.close()
        if self.cache is not None:
            await self.cache.close()
        if self._metrics_server is not None:
            await self._metrics_server.stop()


def outgoing_ssl_context(config: TcConfig) -> ssl.SSLContext:
    """The websocket server's TLS context: its certificate, no client certificate asked."""
    return https_server_context(
        config.outgoing_cert_file, config.outgoing_key_file,
        ("TRAFFIC_CONTROLLER_OUTGOING_CERT_FILE", "TRAFFIC_CONTROLLER_OUTGOING_KEY_FILE"))