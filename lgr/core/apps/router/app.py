"""Router app: wires ingress diode, publisher, PubSub and egress streams behind one mTLS server.

Data path: agents' batches → :class:`IngressService` → ingress diode (INGRESS_BUFFER_SIZE,
drop oldest) → publisher task (or the handler itself when nothing is queued) →
:class:`~lgr.core.pubsub.PubSub` (selectors, shard groups, deterministic names) → each
subscription's diode → its :class:`EgressService` stream. Envelopes stay serialized bytes all
the way; only counter and gauge selectors make the PubSub parse. The v1 (dropsonde) services,
Doppler and DopplerIngestor, share the port and the metrics (:mod:`.v1_plane`).
"""

from __future__ import annotations

import asyncio
import logging

import grpc

from lgr.core.apps.router.config import RouterConfig
from lgr.core.apps.router.egress import EgressService
from lgr.core.apps.router.ingress import IngressService, Item
from lgr.core.apps.router.v1_egress import GaugePart
from lgr.core.apps.router.v1_plane import V1Plane
from lgr.core.component import Component
from lgr.core.diode import Diode
from lgr.core.drops import DropTracker
from lgr.core.grpc_server import format_address, start_server
from lgr.core.metrics import Registry
from lgr.core.metrics_server import MetricsServer
from lgr.core.tls_failures import counted
from lgr.core.pubsub import PubSub, Rand
from lgr.core.tls import server_credentials, server_ssl_context

PUBLISH_CHUNK = 1000  # envelopes handed to the PubSub per turn of the publisher
FINAL_GRACE = 0.5  # seconds for ended streams to close before the server cuts the rest

log = logging.getLogger("lgr.router")


class Router(Component):
    """The router; ``await start()`` binds ``config.port`` (0: any) and sets ``address``."""

    name = "router"

    def __init__(self, config: RouterConfig, *, rand: Rand | None = None) -> None:
        super().__init__()
        self.config = config
        self.port: int | None = None
        self.metrics = Registry()
        m = self.metrics
        self.ingress_count = m.counter("ingress", "Envelopes received from agents")
        self.egress_count = m.counter("egress", "Envelopes sent to subscriptions")
        self.dropped_ingress = m.counter(
            "dropped", "Envelopes dropped by a full buffer", labels={"direction": "ingress"})
        self.dropped_egress = m.counter(
            "dropped", "Envelopes dropped by a full buffer", labels={"direction": "egress"})
        self.subscriptions = m.gauge("subscriptions", "Open egress subscriptions",
                                     unit="subscriptions")
        self.pubsub = PubSub(rand)
        self._diode: Diode[Item] = Diode(
            config.ingress_buffer_size,
            on_drop=DropTracker("router ingress buffer", [self.dropped_ingress]),
            max_bytes=config.ingress_buffer_bytes, size_of=_item_bytes,
        )
        v2_subs, v1_subs = GaugePart.split(self.subscriptions, 2)
        self.egress = EgressService(self.pubsub, config.subscriber_buffer_size, self.egress_count,
                                    self.dropped_egress, v2_subs,  # type: ignore[arg-type]
                                    buffer_bytes=config.subscriber_buffer_bytes)
        self.v1 = V1Plane(m, ingress=self.ingress_count, dropped_egress=self.dropped_egress,
                          egress=self.egress_count, subscriptions=v1_subs,
                          buffer_size=config.egress_buffer_size,
                          buffer_bytes=config.subscriber_buffer_bytes, v2_subscribers=self.pubsub,
                          deliver_v2=self._publish_v2, rand=rand)
        # One malformed counter: pushed v1 payloads and v2 envelopes that do not parse.
        self.malformed = self.v1.malformed
        self.ingress = IngressService(self._diode, self.ingress_count, self._publish_items,
                                      self.malformed)
        self._server: grpc.aio.Server | None = None
        self._metrics_server: MetricsServer | None = None

    @property
    def metrics_url(self) -> str | None:
        """https://host:port/metrics, once started with metrics on."""
        return self._metrics_server.url if self._metrics_server else None

    async def _start(self) -> None:
        cfg = self.config
        creds = server_credentials(cfg.ca_file, cfg.cert_file, cfg.key_file, env=cfg.tls_env)
        ssl_context = None
        if cfg.metrics_port != -1:
            ssl_context = server_ssl_context(
                *cfg.metrics_tls,
                env=("METRICS_CA_FILE_PATH", "METRICS_CERT_FILE_PATH", "METRICS_KEY_FILE_PATH"))
        self._server, self.port = await start_server(
            [self.ingress.handler(), self.egress.handler(), *self.v1.handlers()],
            cfg.host, cfg.port, creds, self.name)
        self.address = format_address(cfg.host, self.port)
        try:
            if ssl_context is not None:
                ssl_context = counted(ssl_context, self.metrics, "metrics")
                self._metrics_server = MetricsServer(
                    self.metrics.render_prometheus, cfg.host, cfg.metrics_port, ssl_context,
                    component=self.name)
                await self._metrics_server.start()
        except BaseException:
            await self._server.stop(None)
            raise
        self.spawn(self._publish(), name="router-publisher")

    async def _stop(self, grace: float) -> None:
        # Deliver what has arrived, let streams send what they hold, then close everything.
        self._publish_pending()
        self.egress.close()
        self.v1.close()
        if self._server is not None:
            await self.egress.drained(grace)
            await self.v1.drained(grace)
            # Ended streams still need a moment to send their status; agents' streams are cut.
            await self._server.stop(FINAL_GRACE)
        if self._metrics_server is not None:
            await self._metrics_server.stop()

    async def _publish(self) -> None:
        diode = self._diode
        while True:
            await diode.wait()
            self._publish_pending(PUBLISH_CHUNK)
            # Let ingress and egress streams run between chunks under sustained load.
            await asyncio.sleep(0)

    def _publish_pending(self, limit: int | None = None) -> None:
        diode = self._diode
        while items := diode.take(limit or len(diode) or 1):
            self._publish_items(items)
            if limit is not None:
                return

    def _publish_items(self, items: list[Item]) -> None:
        self._publish_v2(items)
        self.v1.from_v2(items)

    def _publish_v2(self, items: list[Item]) -> None:
        try:
            self.pubsub.publish_batch(items)
        except Exception:  # noqa: BLE001 - a bad envelope must not stop routing
            self._publish_one_by_one(items)

    def _publish_one_by_one(self, items: list[Item]) -> None:
        # Routing parses counters and gauges; one that upb rejects is dropped, the rest go on.
        for data, source_id, kind in items:
            try:
                self.pubsub.publish_peeked(data, source_id, kind)
            except Exception as exc:  # noqa: BLE001
                self.dropped_ingress.inc(1)
                log.warning("dropped an envelope that could not be routed: %s", exc)


def _item_bytes(item: Item) -> int:
    return len(item[0])
