"""Agent v1 egress: the v1 pipeline's envelopes to the routers over DopplerIngestor/Pusher.

Upstream's agent keeps a pool of five Pusher streams (clientpool/v1), each its own connection,
recycled after ~100000 writes, and writes one ``EnvelopeData{payload}`` per v1 envelope. This is
the agent's :class:`~.egress.RouterPool` (streams, address resolution, AZ preference,
reconnects, drops counted as ``dropped{direction="egress",metric_version="1.0"}``) with that
method and framing: ``EnvelopeData`` has the wire form of a one-envelope EnvelopeBatch, so each
envelope is framed as ``join_batch((env,))``. ``egress{metric_version="1.0"}`` counts envelopes
written, the gauge ``doppler_v1_streams`` the streams up; ``doppler_connections`` is shared with
the v2 pool, as upstream's.
"""

from __future__ import annotations

from lgr.core.apps.agent.egress import RouterPool
from lgr.core.batching import FRAMING
from lgr.core.envelope import join_batch
from lgr.core.tls import MAX_MESSAGE_BYTES

PUSHER = "/plumbing.DopplerIngestor/Pusher"


class V1RouterPool(RouterPool):
    """Forwards the v1 pipeline's envelopes, one EnvelopeData message each."""

    method = PUSHER
    metric_version = "1.0"
    streams_metric = ("doppler_v1_streams",
                      "Current number of established gRPC streams from v1 agent.")

    def messages(self, items: list[bytes]) -> tuple[list[tuple[bytes, int]], int]:
        """One EnvelopeData per envelope; how many are too large for any message."""
        fits = [env for env in items if len(env) + FRAMING <= MAX_MESSAGE_BYTES]
        return [(join_batch((env,)), 1) for env in fits], len(items) - len(fits)
