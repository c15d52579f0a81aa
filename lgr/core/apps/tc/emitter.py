"""Metric emitter: the traffic controller's own metrics and events, sent into Loggregator.

As upstream's metricemitter client: with AGENT_GRPC_ADDRESS set, the controller sends its
metrics every TRAFFIC_CONTROLLER_METRIC_EMITTER_INTERVAL (counters with their delta and total,
gauges) and each event (a slow consumer cut) at once, as v2 envelopes with source_id
"traffic_controller" and tag origin "loggregator.trafficcontroller", to that agent over mTLS
(the ROUTER_* certificate, the agent checked as "metron"). The agent forwards them to the routers
like any other envelope, so firehose readers see them. Sending never blocks the controller
(lgr.core.clients.ingress buffers and drops the oldest when the agent is away).

Without an agent, events are logged as warnings and the metrics are only served on METRICS_PORT.
"""

from __future__ import annotations

import asyncio
import collections
import logging

import grpc

from lgr.core import envelope
from lgr.core.apps.tc.config import ORIGIN, SOURCE_ID
from lgr.core.clients.ingress import IngressClient
from lgr.core.metrics import Registry
from lgr.core.tls import AGENT_SERVER_NAME

RECENT_EVENTS = 100  # events remembered for inspection
BUFFER_SIZE = 1000

log = logging.getLogger("lgr.tc")


class MetricEmitter:
    """Sends ``registry``'s metrics and the controller's events to an agent, when there is one."""

    def __init__(self, registry: Registry, agent_addr: str,
                 credentials: grpc.ChannelCredentials | None, interval: float) -> None:
        self._registry = registry
        self._interval = interval
        self._tags = {"origin": ORIGIN}
        self._client = (IngressClient(agent_addr, credentials, server_name=AGENT_SERVER_NAME,
                                      buffer_size=BUFFER_SIZE)
                        if agent_addr and credentials is not None else None)
        self._task: asyncio.Task[None] | None = None
        self.events: collections.deque[tuple[str, str]] = collections.deque(maxlen=RECENT_EVENTS)

    @property
    def agent_addr(self) -> str | None:
        """The agent's address, or None when events are only logged."""
        return self._client.address if self._client else None

    async def start(self) -> None:
        """Start sending metrics every interval (nothing to do without an agent)."""
        if self._client is not None:
            await self._client.start()
            self._task = asyncio.ensure_future(self._pulse())

    def emit_event(self, title: str, body: str) -> None:
        """Send (or log) an event; never blocks."""
        self.events.append((title, body))
        if self._client is None:
            log.warning("event: %s: %s", title, body.replace("\n", " | "))
            return
        self._client.emit(envelope.event(title, body, source_id=SOURCE_ID, tags=self._tags))

    async def close(self, timeout: float = 1.0) -> None:
        """Send the last metrics and what is queued (up to ``timeout``), then disconnect."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._client is not None:
            self._emit_metrics()
            await self._client.close(timeout)

    async def _pulse(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            self._emit_metrics()

    def _emit_metrics(self) -> None:
        assert self._client is not None
        self._client.emit_many(self._registry.to_envelopes(SOURCE_ID, tags=self._tags))
