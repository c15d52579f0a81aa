"""RLP metrics: the reverse log proxy's counters and gauges, under upstream's names."""

from __future__ import annotations

from lgr.core.metrics import Registry
from lgr.core.salvage import malformed_counter


class RlpMetrics:
    """Every metric of the RLP, declared once on ``registry``."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.ingress = registry.counter("ingress", "Envelopes received from routers")
        self.egress = registry.counter("egress", "Envelopes sent to consumers")
        self.dropped_egress = registry.counter(
            "dropped", "Envelopes dropped by a full consumer buffer",
            labels={"direction": "egress"})
        self.malformed = malformed_counter(registry)
        self.subscriptions = registry.gauge(
            "subscriptions", "Open consumer streams", unit="total")
        self.rejected_streams = registry.counter(
            "rejected_streams", "Consumer streams refused past MAX_EGRESS_STREAMS")
        self.router_connects = registry.counter(
            "log_router_connects", "Streams opened to routers")
        self.router_disconnects = registry.counter(
            "log_router_disconnects", "Streams to routers that ended")
