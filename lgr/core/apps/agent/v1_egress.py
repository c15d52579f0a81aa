"""Agent v1 egress: the v1 pipeline's envelopes to the routers, batched where the router can.

Upstream's agent keeps a pool of five ``plumbing.DopplerIngestor/Pusher`` streams (clientpool/v1),
each its own connection, recycled after ~100000 writes, and writes one ``EnvelopeData{payload}``
per v1 envelope. One gRPC message per envelope costs a Python process ~50 µs on each side, so
lgr's v1 pool first opens ``lgr.plumbing.DopplerIngestor/BatchPusher`` (:data:`BATCH_PUSHER`, an
lgr extension that lgr's router serves): a stream of ``plumbing.BatchResponse``-shaped messages,
``repeated bytes payload = 1``, each payload one v1 envelope, batched and split under the message
limit as the v2 pool's EnvelopeBatches (the same wire form, so ``join_batch`` builds both). A
router that answers UNIMPLEMENTED (upstream's) is remembered and gets upstream's Pusher from then
on, one ``EnvelopeData`` per envelope (also the form of a one-envelope batch). The envelopes on a
refused stream's first write are counted as dropped.

Everything else is the agent's :class:`~.egress.RouterPool` (streams, address resolution, AZ
preference, reconnects, drops counted as ``dropped{direction="egress",metric_version="1.0"}``).
``egress{metric_version="1.0"}`` counts envelopes written, the gauge ``doppler_v1_streams`` the
streams up; ``doppler_connections`` is shared with the v2 pool, as upstream's.
"""

from __future__ import annotations

import logging

from lgr.core.apps.agent.egress import Address, RouterPool
from lgr.core.batching import FRAMING
from lgr.core.envelope import join_batch
from lgr.core.grpc_server import format_address
from lgr.core.tls import MAX_MESSAGE_BYTES

PUSHER = "/plumbing.DopplerIngestor/Pusher"
BATCH_PUSHER = "/lgr.plumbing.DopplerIngestor/BatchPusher"

log = logging.getLogger("lgr.agent")


class V1RouterPool(RouterPool):
    """Forwards the v1 pipeline's envelopes: batched to lgr routers, one each to upstream's."""

    method = BATCH_PUSHER
    metric_version = "1.0"
    streams_metric = ("doppler_v1_streams",
                      "Current number of established gRPC streams from v1 agent.")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._pusher_only: set[Address] = set()

    def method_for(self, address: Address) -> str:
        """BatchPusher, or Pusher for a router that refused it."""
        return PUSHER if address in self._pusher_only else BATCH_PUSHER

    def unimplemented(self, address: Address, call: object) -> None:
        """A router without BatchPusher (upstream's) gets Pusher from now on."""
        if address not in self._pusher_only:
            self._pusher_only.add(address)
            log.info("agent: router %s has no BatchPusher; sending v1 over Pusher",
                     format_address(*address))

    def messages(self, items: list[bytes], method: str) -> tuple[list[tuple[bytes, int]], int]:
        """Batches for BatchPusher; one EnvelopeData per envelope for Pusher."""
        if method == BATCH_PUSHER:
            return super().messages(items, method)
        fits = [env for env in items if len(env) + FRAMING <= MAX_MESSAGE_BYTES]
        return [(join_batch((env,)), 1) for env in fits], len(items) - len(fits)
