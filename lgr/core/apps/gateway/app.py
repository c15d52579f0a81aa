"""Gateway app: the HTTPS server for /v2/read, wired to the RLP over mTLS and to lgr.core.auth.

The HTTPS server presents HTTP_CERT_PATH and asks clients for no certificate, as upstream's
(``tlsconfig.WithInternalServiceDefaults``: TLS 1.2 or later). Every path but /v2/read answers
Go's ``404 page not found``. Access lines go to the ``lgr.gateway.access`` logger in common log
format (upstream writes them to stdout).
"""

from __future__ import annotations

import logging
import ssl

from aiohttp import web

from lgr.core import tls
from lgr.core.apps.gateway.config import GatewayConfig
from lgr.core.apps.gateway.limits import StreamLimits
from lgr.core.apps.gateway.metrics import GatewayMetrics
from lgr.core.apps.gateway.provider import LogsProvider
from lgr.core.apps.gateway.read import ReadHandler, page_not_found
from lgr.core.auth import Authorizer, build_authorizer
from lgr.core.component import Component
from lgr.core.grpc_server import format_address
from lgr.core.http_server import HttpServer
from lgr.core.metrics import Registry
from lgr.core.metrics_server import MetricsServer
from lgr.core.tls_failures import counted

ACCESS_LOG_FORMAT = '%a - - %t "%r" %s %b'
HTTP_ENV = ("HTTP_CERT_PATH", "HTTP_KEY_PATH")
SHUTDOWN_TIMEOUT = 2.0  # seconds for in-flight requests once every stream was told to end


def https_context(cert_path: str, key_path: str) -> ssl.SSLContext:
    """The gateway's server-only TLS context (no client certificates), checked up front."""
    return tls.https_server_context(cert_path, key_path, HTTP_ENV)


class Gateway(Component):
    """The RLP gateway; ``await start()`` binds GATEWAY_ADDR (port 0: any), sets ``address``."""

    name = "gateway"
    protocol = "http"

    def __init__(self, config: GatewayConfig) -> None:
        super().__init__()
        self.config = config
        self.port: int | None = None
        self.metrics = Registry()
        self.m = GatewayMetrics(self.metrics)
        self.authorizer: Authorizer | None = None
        self.provider: LogsProvider | None = None
        self.reader: ReadHandler | None = None
        self._http: HttpServer | None = None
        self._metrics_server: MetricsServer | None = None

    @property
    def url(self) -> str:
        """https://host:port of the gateway, once started."""
        return f"https://{self.address}"

    @property
    def metrics_url(self) -> str | None:
        """https://host:port/metrics, once started with metrics on."""
        return self._metrics_server.url if self._metrics_server else None

    async def _start(self) -> None:
        cfg = self.config
        https = https_context(cfg.http_cert_path, cfg.http_key_path)
        creds = tls.client_credentials(cfg.logs_provider_ca_path, cfg.logs_provider_client_cert_path,
                                       cfg.logs_provider_client_key_path, env=cfg.provider_tls_env)
        metrics_ssl = None
        if cfg.metrics_port != -1:
            metrics_ssl = tls.server_ssl_context(
                *cfg.metrics_tls,
                env=("METRICS_CA_FILE_PATH", "METRICS_CERT_FILE_PATH", "METRICS_KEY_FILE_PATH"))
        self.authorizer = build_authorizer(cfg.auth_options(), self.metrics)
        self.provider = LogsProvider(cfg.logs_provider_addr, creds, cfg.logs_provider_common_name)
        self.reader = ReadHandler(self.provider, self.authorizer, self.m, float(cfg.heartbeat),
                                  float(cfg.stream_timeout),
                                  StreamLimits(cfg.max_streams, cfg.max_streams_per_token))
        app = web.Application()
        app.router.add_route("*", "/v2/read", self.reader.handle)
        app.router.add_route("*", "/{tail:.*}", page_not_found)
        app.on_response_prepare.append(_drop_server_header)
        self._http = HttpServer(
            app, cfg.host, cfg.port, registry=self.metrics, component="gateway", env="GATEWAY_ADDR",
            ssl_context=https, header_timeout=cfg.header_timeout,
            # Streams end as soon as shutdown() is called, so the runner needs little time.
            handler_cancellation=True, shutdown_timeout=SHUTDOWN_TIMEOUT,
            access_log=logging.getLogger("lgr.gateway.access"), access_log_format=ACCESS_LOG_FORMAT)
        try:
            self.port = await self._http.start()
            self.address = format_address(cfg.host, self.port)
            if metrics_ssl is not None:
                metrics_ssl = counted(metrics_ssl, self.metrics, "metrics")
                self._metrics_server = MetricsServer(
                    self.metrics.render_prometheus, cfg.host, cfg.metrics_port, metrics_ssl,
                    component=self.name)
                await self._metrics_server.start()
        except BaseException:
            await self._close()
            raise

    async def _stop(self, grace: float) -> None:
        if self.reader is not None:
            self.reader.shutdown()
        await self._close()

    async def _close(self) -> None:
        if self._http is not None:
            await self._http.stop()
            self._http = None
        if self._metrics_server is not None:
            await self._metrics_server.stop()
        if self.provider is not None:
            await self.provider.close()
        if self.authorizer is not None:
            await self.authorizer.close()


async def _drop_server_header(request: web.Request, response: web.StreamResponse) -> None:
    # Go's net/http sends no Server header; neither does the upstream gateway.
    response.headers.pop("Server", None)
