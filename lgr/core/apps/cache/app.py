"""Cache app: wires the store, the nozzle from the rlp, the HTTP and gRPC APIs and the metrics endpoint.

``await start()`` binds ADDR (port 0: any free port), HTTPS when EXTERNAL_CERT is set (server
certificate only, TLS 1.2 or later, as upstream's gateway), and with LGR_CACHE_GRPC_ADDR set the
gRPC API over mTLS (lgr.core.apps.cache.grpc_api); starts the metrics endpoint and the nozzle,
and logs ``cache http bound to: host:port`` (and ``cache grpc bound to: host:port``). Access
lines go to ``lgr.cache.access``.
"""

from __future__ import annotations

import logging
import ssl

from aiohttp import web

from lgr.core import tls
from lgr.core.apps.cache.access import Access
from lgr.core.apps.cache.config import GRPC_TLS_ENV, PROVIDER_TLS_ENV, CacheConfig
from lgr.core.apps.cache.http_api import HttpApi
from lgr.core.apps.cache.metrics import CacheMetrics
from lgr.core.apps.cache.promql import Engine
from lgr.core.apps.cache.store import Store
from lgr.core.auth import Authorizer, build_authorizer
from lgr.core.component import Component
from lgr.core.grpc_server import format_address
from lgr.core.http_server import HttpServer
from lgr.core.metrics import Registry
from lgr.core.metrics_server import MetricsServer
from lgr.core.tls_failures import counted
from lgr.core.settings import METRICS_TLS_ENV

ACCESS_LOG_FORMAT = '%a - - %t "%r" %s %b'
HTTP_ENV = ("EXTERNAL_CERT", "EXTERNAL_KEY")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def https_context(cert_path: str, key_path: str) -> ssl.SSLContext:
    """The cache's server-only TLS context (no client certificates), checked up front."""
    return tls.https_server_context(cert_path, key_path, HTTP_ENV)


class Cache(Component):
    """The log cache; ``store`` exists from construction, the servers from ``start()``."""

    name = "cache"
    protocol = "http"

    def __init__(self, config: CacheConfig) -> None:
        super().__init__()
        self.config = config
        self.port: int | None = None
        self.metrics = Registry()
        self.m = CacheMetrics(self.metrics)
        self.store = Store(config.max_per_source, config.memory_cap())
        self.nozzle = None
        self.authorizer: Authorizer | None = None
        self._tls = bool(config.external_cert)
        self._http: HttpServer | None = None
        self._metrics_server: MetricsServer | None = None
        self._grpc_server = None
        self.grpc_address: str | None = None

    @property
    def url(self) -> str:
        """http(s)://host:port of the API, once started."""
        return f"{'https' if self._tls else 'http'}://{self.address}"

    @property
    def metrics_url(self) -> str | None:
        """The metrics endpoint's URL, once started with metrics on."""
        return self._metrics_server.url if self._metrics_server else None

    def render_metrics(self) -> str:
        """The Prometheus text of the cache's metrics, brought up to date."""
        self.m.sync_slow(self.store)
        return self.metrics.render_prometheus()

    async def _start(self) -> None:
        cfg = self.config
        https = https_context(cfg.external_cert, cfg.external_key) if self._tls else None
        metrics_tls = cfg.metrics_tls
        metrics_ssl = None
        if cfg.metrics_port != -1 and metrics_tls is not None:
            metrics_ssl = tls.server_ssl_context(*metrics_tls, env=METRICS_TLS_ENV)
        self.authorizer = build_authorizer(cfg.auth_options(), self.metrics)
        self.m.memory_limit.set(self.store.memory_limit)
        engine = Engine(self.store, float(cfg.query_timeout))
        api = HttpApi(self.store, engine, Access(self.authorizer), self.m)
        api.app.on_response_prepare.append(_drop_server_header)
        self._http = HttpServer(api.app, cfg.host, cfg.port, registry=self.metrics, component="cache",
                                env="ADDR", ssl_context=https, header_timeout=cfg.header_timeout,
                                shutdown_timeout=1.0, access_log=logging.getLogger("lgr.cache.access"),
                                access_log_format=ACCESS_LOG_FORMAT)
        try:
            self.port = await self._http.start()
            self.address = format_address(cfg.host, self.port)
            if cfg.grpc_addr:
                await self._start_grpc(engine)
            if cfg.metrics_port != -1:
                host = cfg.host if metrics_ssl is not None else "127.0.0.1"
                metrics_ssl = counted(metrics_ssl, self.metrics, "metrics")
                self._metrics_server = MetricsServer(self.render_metrics, host, cfg.metrics_port,
                                                     metrics_ssl, component=self.name)
                await self._metrics_server.start()
            if cfg.logs_provider_addr:
                self._start_nozzle()
            else:
                logging.getLogger("lgr.cache").warning(
                    "cache: LOGS_PROVIDER_ADDR is not set: nothing fills the cache")
        except BaseException:
            await self._close()
            raise

    async def _start_grpc(self, engine: Engine) -> None:
        from lgr.core.apps.cache.grpc_api import GrpcApi
        from lgr.core.grpc_server import start_server

        cfg = self.config
        creds = tls.server_credentials(*cfg.grpc_tls, env=GRPC_TLS_ENV)
        host, port = cfg.grpc_host_port
        self._grpc_server, bound = await start_server(
            GrpcApi(self.store, engine, self.m).handlers(), host, port, creds, "cache gRPC API")
        self.grpc_address = format_address(host, bound)
        logging.getLogger("lgr.cache").info("cache grpc bound to: %s", self.grpc_address)

    def _start_nozzle(self) -> None:
        from lgr.core.apps.cache.nozzle import Nozzle

        cfg = self.config
        creds = tls.client_credentials(*cfg.provider_tls, env=PROVIDER_TLS_ENV)
        self.nozzle = Nozzle(cfg.logs_provider_addr, creds, cfg.logs_provider_common_name,
                             self.store, self.m, cfg.shard_id, cfg.selectors)
        self.spawn(self.nozzle.run(), name="nozzle")

    async def _stop(self, grace: float) -> None:
        await self._close()

    async def _close(self) -> None:
        if self._grpc_server is not None:
            await self._grpc_server.stop(0.5)
            self._grpc_server = None
        if self._http is not None:
            await self._http.stop()
            self._http = None
        if self._metrics_server is not None:
            await self._metrics_server.stop()
            self._metrics_server = None
        if self.authorizer is not None:
            await self.authorizer.close()
            self.authorizer = None


async def _drop_server_header(request: web.Request, response: web.StreamResponse) -> None:
    # Go's net/http sends no Server header; neither does upstream's gateway.
    response.headers.pop("Server", None)
