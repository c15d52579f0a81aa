"""RLP app: the consumers' Egress server, wired to a channel per router, behind mTLS.

Each consumer stream reads BatchedReceiver from every router in ROUTER_ADDRS and merges them
(:mod:`.consumer`); the RLP presents its own certificate to the routers and checks them as
"doppler", and serves consumers as "reverselogproxy".
"""

from __future__ import annotations

import grpc

from lgr.core.apps.rlp.config import RlpConfig
from lgr.core.apps.rlp.egress import EgressService
from lgr.core.apps.rlp.metrics import RlpMetrics
from lgr.core.router_pool import RouterPool
from lgr.core.component import Component
from lgr.core.grpc_server import format_address, start_server
from lgr.core.metrics import Registry
from lgr.core.metrics_server import MetricsServer
from lgr.core.tls_failures import counted
from lgr.core.tls import client_credentials, server_credentials, server_ssl_context

FINAL_GRACE = 0.5  # seconds for ended streams to close before the server cuts the rest


class Rlp(Component):
    """The reverse log proxy; ``await start()`` binds ``config.port`` (0: any), sets ``address``."""

    name = "rlp"

    def __init__(self, config: RlpConfig) -> None:
        super().__init__()
        self.config = config
        self.port: int | None = None
        self.metrics = Registry()
        self.m = RlpMetrics(self.metrics)
        self.pool: RouterPool | None = None
        self.egress: EgressService | None = None
        self._server: grpc.aio.Server | None = None
        self._metrics_server: MetricsServer | None = None

    @property
    def metrics_url(self) -> str | None:
        """https://host:port/metrics, once started with metrics on."""
        return self._metrics_server.url if self._metrics_server else None

    async def _start(self) -> None:
        cfg = self.config
        server_creds = server_credentials(cfg.ca_file, cfg.cert_file, cfg.key_file,
                                          env=cfg.tls_env)
        client_creds = client_credentials(cfg.ca_file, cfg.cert_file, cfg.key_file,
                                          env=cfg.tls_env)
        ssl_context = None
        if cfg.metrics_port != -1:
            ssl_context = server_ssl_context(
                *cfg.metrics_tls,
                env=("METRICS_CA_FILE_PATH", "METRICS_CERT_FILE_PATH", "METRICS_KEY_FILE_PATH"))
        self.pool = RouterPool(cfg.router_addrs, client_creds, component=self.name)
        self.egress = EgressService(
            self.pool, self.m, max_streams=cfg.max_egress_streams, buffer_size=cfg.buffer_size,
            report_source_id=cfg.metric_source_id, buffer_bytes=cfg.buffer_bytes)
        try:
            self._server, self.port = await start_server(
                [self.egress.handler()], cfg.host, cfg.port, server_creds, self.name)
            self.address = format_address(cfg.host, self.port)
            if ssl_context is not None:
                ssl_context = counted(ssl_context, self.metrics, "metrics")
                self._metrics_server = MetricsServer(
                    self.metrics.render_prometheus, cfg.host, cfg.metrics_port, ssl_context,
                    component=self.name)
                await self._metrics_server.start()
        except BaseException:
            if self._server is not None:
                await self._server.stop(None)
            await self.pool.close()
            raise

    async def _stop(self, grace: float) -> None:
        # Stop reading from routers, let streams send what they hold, then close everything.
        if self.egress is not None:
            self.egress.close()
            await self.egress.drained(grace)
        if self._server is not None:
            # Ended streams still need a moment to send their status; others are cut.
            await self._server.stop(FINAL_GRACE)
        if self.pool is not None:
            await self.pool.close()
        if self._metrics_server is not None:
            await self._metrics_server.stop()
