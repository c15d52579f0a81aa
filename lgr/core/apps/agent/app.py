"""Agent: wires the agent's ingress (v2 gRPC, v1 UDP), its diode, router pool and metrics.

Data path (v2): gRPC Ingress → tagging → ingress diode (drop oldest) → router pool (batches of up
to 100 over BatchSender streams). v1, as upstream's agent, apart: UDP dropsonde → the v1 pipeline
(checks, v1 counter totals, deployment/job/index/ip tagging; :mod:`.v1_pipeline`) → its own buffer
→ its own pool of Pusher streams, one EnvelopeData per envelope (:mod:`.v1_egress`); the routers
convert for v2 readers. Every AGENT_METRIC_BATCH_INTERVAL_MILLISECONDS
the agent's own metrics also enter the diode as envelopes with source_id AGENT_METRIC_SOURCE_ID,
as upstream's agent used to emit them.

Metrics (upstream's names and labels; Prometheus on METRICS_PORT, HTTPS with client certs):
``ingress{metric_version="2.0"}`` envelopes received over gRPC, ``ingress{metric_version="1.0"}``
valid datagrams received over UDP, ``egress{metric_version="2.0"|"1.0"}`` envelopes written to
routers, ``dropped{direction="ingress"|"egress",metric_version="2.0"}`` envelopes lost to a full
diode or to a failed (or impossible) write, ``dropped{direction="all",metric_version="1.0"}`` v1
envelopes lost to the full v1 buffer (lgr adds ``dropped{direction="egress",metric_version="1.0"}``
for failed v1 writes), ``origin_mappings{metric_version="2.0"}``, and the gauges
``doppler_v2_streams`` / ``doppler_v1_streams`` / ``doppler_connections``. lgr adds
``malformed{metric_version="1.0"}``:
datagrams that are not valid dropsonde envelopes, dropped before they become envelopes (so they
are not in ``dropped``, which counts envelopes lost on the way), and ``malformed{metric_version=
"2.0"}``: envelopes of gRPC messages refused as not parsing (lgr.core.apps.agent.grpc_ingress).
"""

from __future__ import annotations

import asyncio
import logging
import time

from lgr.core import tls
from lgr.core.apps.agent.config import AGENT_TLS_ENV, AgentConfig
from lgr.core.apps.agent.egress import RouterPool
from lgr.core.apps.agent.grpc_ingress import IngressService
from lgr.core.apps.agent.passthrough import PassThrough
from lgr.core.apps.agent.tagging import Tagger, serialize_all
from lgr.core.apps.agent.udp_ingress import UDPIngress
from lgr.core.apps.agent.v1_egress import V1RouterPool
from lgr.core.apps.agent.v1_pipeline import V1Pipeline
from lgr.core.component import Component
from lgr.core.diode import Diode
from lgr.core.drops import DropTracker
from lgr.core.grpc_drain import Drain
from lgr.core.grpc_server import format_address, start_server
from lgr.core.metrics import Registry
from lgr.core.metrics_server import MetricsServer
from lgr.core.tls_failures import counted

log = logging.getLogger("lgr.agent")



SHUTDOWN_MESSAGE = "the agent is shutting down: it takes no more envelopes (reconnect to another agent)"

class Agent(Component):
    """The agent server; ``App(config)`` does no I/O, ``await start()`` binds everything."""

    name = "agent"

    def __init__(self, config: AgentConfig, *, egress_backoff: tuple[float, float] = (0.1, 1.0)) -> None:
        super().__init__()
        self.config = config
        self.metrics = Registry()
        m = self.metrics
        self.ingress = m.counter("ingress", "Total number of envelopes ingressed by the agent.",
                                 {"metric_version": "2.0"})
        self.dropped_ingress = m.counter("dropped", "Total number of dropped envelopes.",
                                         {"direction": "ingress", "metric_version": "2.0"})
        self.origin_mappings = m.counter(
            "origin_mappings", "Total number of envelopes where the origin tag is used as the source_id.",
            {"metric_version": "2.0"},
        )
        malformed = ("Total number of v1 UDP datagrams dropped as not valid dropsonde envelopes "
                     "(1.0), and of v2 envelopes refused as not parsing (2.0).")
        self.malformed = m.counter("malformed", malformed, {"metric_version": "1.0"})
        self.malformed_v2 = m.counter("malformed", malformed, {"metric_version": "2.0"})
        self.diode: Diode[bytes] = Diode(
            config.ingress_buffer_size, DropTracker("agent ingress buffer", [self.dropped_ingress]),
            max_bytes=config.ingress_buffer_bytes,
        )
        self.tagger = Tagger(config.tags, self.origin_mappings, logs_disabled=config.logs_disabled)
        self.v1 = V1Pipeline(m, self.malformed, config.deployment, config.job, config.index,
                             config.ip)
        self.ingress_v1 = self.v1.ingress
        self.v1_pool: V1RouterPool | None = None
        self._egress_backoff = egress_backoff
        self.pool: RouterPool | None = None
        self.udp: UDPIngress | None = None
        self.metrics_server: MetricsServer | None = None
        self._server = None
        # On stop, open emitter streams end at once with this, instead of waiting out the grace.
        self.drain = Drain(SHUTDOWN_MESSAGE)
        self.port: int | None = None
        self.udp_port: int | None = None

    @property
    def metrics_url(self) -> str | None:
        """https://host:port/metrics of the metrics endpoint (None when it is off)."""
        return self.metrics_server.url if self.metrics_server is not None else None

    async def _start(self) -> None:
        cfg = self.config
        # Load every certificate first so a bad file is reported before anything binds.
        files = (cfg.ca_file, cfg.cert_file, cfg.key_file)
        server_creds = tls.server_credentials(*files, env=AGENT_TLS_ENV)
        client_creds = tls.client_credentials(*files, env=AGENT_TLS_ENV)
        metrics_ssl = None
        if cfg.metrics_port >= 0:
            metrics_ssl = tls.server_ssl_context(*cfg.metrics_tls, env=cfg.metrics_tls_env)
        try:
            self.pool = RouterPool(
                self.diode, cfg.routers, client_creds, self.metrics,
                preferred=cfg.routers_with_az, streams=cfg.egress_streams,
                backoff=self._egress_backoff,
            )
            await self.pool.start()
            service = IngressService(self.tagger, self.diode, self.ingress,
                                     PassThrough(cfg.tags, logs_disabled=cfg.logs_disabled),
                                     on_queued=self.pool.kick, malformed=self.malformed_v2)
            self._server, self.port = await start_server(
                [self.drain.wrap(service.handler())], cfg.host, cfg.port, server_creds, "agent"
            )
            self.address = format_address(cfg.host, self.port)
            if not cfg.disable_udp:
                self.v1_pool = V1RouterPool(
                    self.v1.diode, cfg.routers, client_creds, self.metrics,
                    preferred=cfg.routers_with_az, streams=cfg.egress_streams,
                    backoff=self._egress_backoff,
                )
                await self.v1_pool.start()
                self.udp = UDPIngress("127.0.0.1", cfg.udp_port, self.v1.accept)
                self.udp.start()
                self.udp_port = self.udp.port
            if metrics_ssl is not None:
                metrics_ssl = counted(metrics_ssl, self.metrics, "metrics")
                self.metrics_server = MetricsServer(
                    self.metrics.render_prometheus, cfg.metrics_host, cfg.metrics_port, metrics_ssl,
                    "agent",
                )
                await self.metrics_server.start()
        except BaseException:
            await self._stop(0)
            raise
        self.spawn(self._emit_own_metrics(), name="agent-own-metrics")

    async def _emit_own_metrics(self) -> None:
        cfg = self.config
        interval = cfg.metric_batch_interval_ms / 1000
        while True:
            await asyncio.sleep(interval)
            self.emit_own_metrics()

    def emit_own_metrics(self) -> None:
        """Put the agent's metrics into its own pipeline as envelopes, now."""
        cfg = self.config
        envs = self.metrics.to_envelopes(
            cfg.metric_source_id, instance_id=cfg.index, timestamp_ns=time.time_ns()
        )
        self.diode.put_many(serialize_all(self.tagger, envs))

    async def _stop(self, grace: float) -> None:
        # Refuse ingress first (a client is told why and can go elsewhere), then forward what
        # the buffer holds within the grace period.
        self.drain.close()
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None
        if self.udp is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.udp.stop)
            self.udp = None
        for pool in (self.pool, self.v1_pool):
            if pool is not None:
                await pool.stop(grace)
        self.pool = self.v1_pool = None
        if self.metrics_server is not None:
            await self.metrics_server.stop()
            self.metrics_server = None
