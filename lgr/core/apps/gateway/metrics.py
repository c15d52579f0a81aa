"""Gateway metrics: envelopes in from the RLP, out to HTTP clients, lost, and open streams.

Auth refusals are counted by lgr.core.auth in the same registry (``auth_failures``).
"""

from __future__ import annotations

from lgr.core.metrics import Registry
from lgr.core.salvage import malformed_counter


class GatewayMetrics:
    """The gateway's own counters and gauges, declared once."""

    def __init__(self, registry: Registry) -> None:
        self.ingress = registry.counter(
            "ingress", "Envelopes received from the reverse log proxy")
        self.egress = registry.counter("egress", "Envelopes written to HTTP clients")
        self.dropped = registry.counter(
            "dropped", "Envelopes received for a client that went away before they were written",
            labels={"direction": "egress"})
        self.malformed = malformed_counter(registry)
        self.streams = registry.gauge("streams", "Open /v2/read streams", unit="connections")
        self.heartbeats = registry.counter("heartbeats", "Heartbeat events written")
        self.stream_timeouts = registry.counter(
            "stream_timeouts", "Streams ended with a closing event at STREAM_TIMEOUT")
        self.bad_requests = registry.counter(
            "bad_requests", "Requests refused for their method or query (405, 400)")
        self.rejected_streams = {
            reason: registry.counter(
                "rejected_streams", "Streams refused: past LGR_GATEWAY_MAX_STREAMS or "
                "LGR_GATEWAY_MAX_STREAMS_PER_TOKEN (429), or by the reverse log proxy (503, 502)",
                labels={"reason": reason})
            for reason in ("max_streams", "max_streams_per_token", "logs_provider")}
