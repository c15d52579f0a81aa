"""Traffic controller metrics: its counters and gauges, under upstream's names where it has them.

Upstream emits ``egress{endpoint=firehose|stream}``, ``doppler_proxy.firehoses``,
``doppler_proxy.app_streams`` and ``doppler_proxy.slow_consumer``; Prometheus names cannot hold
dots, so the last three are ``firehoses``, ``app_streams`` and ``slow_consumer`` here, and
upstream's ``doppler_proxy.log_cache_failure`` is ``log_cache_failures``.
Refused requests are counted by lgr.core.auth in ``auth_failures{endpoint,reason}``.
"""

from __future__ import annotations

from lgr.core.metrics import Registry
from lgr.core.salvage import malformed_counter


class TcMetrics:
    """Every metric of the traffic controller, declared once on ``registry``."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.ingress = registry.counter("ingress", "Envelopes received from routers")
        self.egress_firehose = registry.counter(
            "egress", "Envelopes sent to websocket consumers", labels={"endpoint": "firehose"})
        self.egress_stream = registry.counter(
            "egress", "Envelopes sent to websocket consumers", labels={"endpoint": "stream"})
        self.dropped_egress = registry.counter(
            "dropped", "Envelopes dropped by a full websocket buffer",
            labels={"direction": "egress"})
        self.marshal_errors = registry.counter(
            "v1_marshal_errors",
            "Envelopes skipped because their v1 form lacks a required field (as upstream)")
        self.malformed = malformed_counter(registry)
        self.slow_consumer = registry.counter(
            "slow_consumer", "Websocket consumers disconnected for falling behind")
        self.keepalive_expired = registry.counter(
            "keepalive_expired", "Websocket consumers closed for answering no ping")
        self.firehoses = registry.gauge("firehoses", "Open firehose websockets",
                                        unit="connections")
        self.app_streams = registry.gauge("app_streams", "Open app stream websockets",
                                          unit="connections")
        self.router_connects = registry.counter(
            "log_router_connects", "Streams opened to routers")
        self.router_disconnects = registry.counter(
            "log_router_disconnects", "Streams to routers that ended")
        self.recent_requests = registry.counter(
            "recent_requests", "Requests for recent logs or container metrics served")
        self.log_cache_failures = registry.counter(
            "log_cache_failures", "Recent logs or container metrics requests the log cache failed")

    def egress_for(self, endpoint: str):  # noqa: ANN201 - a metrics Counter
        """The egress counter of ``endpoint`` ("firehose" or "stream")."""
        return self.egress_firehose if endpoint == "firehose" else self.egress_stream
