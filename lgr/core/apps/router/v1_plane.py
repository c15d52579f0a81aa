"""Router v1 plane: the Doppler and DopplerIngestor services wired to one v1 routing table.

What upstream's router serves for v1 (dropsonde) clients, next to the v2 services on the same
mTLS port: agents push v1 envelopes (:mod:`.v1_ingress`), traffic controllers subscribe to them
by app id and log/metric filter and by shard id (:mod:`.v1_routing`, :mod:`.v1_egress`). v1
envelopes reach v2 subscribers as ToV2 and v2 envelopes reach v1 subscribers as ToV1, each only
while the other plane has a subscription. Metrics are the router's: ``ingress``,
``egress``, ``dropped{direction="egress"}`` and ``subscriptions`` are shared with the v2 plane
as upstream shares them; lgr adds ``malformed`` (pushed payloads that are not dropsonde
envelopes) and ``v1_marshal_errors`` (v2 envelopes whose ToV1 form Go would not marshal).
"""

from __future__ import annotations

from collections.abc import Callable, Sized

import grpc

from lgr.core.apps.router.v1_egress import DopplerService, GaugePart
from lgr.core.apps.router.v1_ingress import IngestorService, V2Item, V2ToV1
from lgr.core.apps.router.v1_routing import Rand, V1Router
from lgr.core.metrics import Counter, Registry


class V1Plane:
    """The router's v1 services; ``from_v2`` takes what the v2 plane publishes."""

    def __init__(self, metrics: Registry, *, ingress: Counter, dropped_egress: Counter,
                 egress: Counter, subscriptions: GaugePart, buffer_size: int,
                 buffer_bytes: int | None,
                 v2_subscribers: Sized, deliver_v2: Callable[[list[V2Item]], None],
                 rand: Rand | None = None) -> None:
        self.malformed = metrics.counter(
            "malformed", "Pushed v1 payloads skipped as not valid dropsonde envelopes, and v2 "
            "envelopes refused because they do not parse")
        self.marshal_errors = metrics.counter(
            "v1_marshal_errors",
            "v2 envelopes not sent to v1 subscribers: their v1 form lacks a required field")
        self.router = V1Router(rand)
        self.ingestor = IngestorService(self.router, v2_subscribers, deliver_v2, ingress,
                                        self.malformed)
        self.doppler = DopplerService(self.router, buffer_size, egress, dropped_egress,
                                      subscriptions, buffer_bytes)
        self._from_v2 = V2ToV1(self.router, self.marshal_errors)
        self.from_v2 = self._from_v2.publish

    def handlers(self) -> list[grpc.GenericRpcHandler]:
        """The generic handlers of DopplerIngestor (and lgr's BatchPusher) and Doppler."""
        return [*self.ingestor.handlers(), self.doppler.handler()]

    def close(self) -> None:
        """End every v1 subscription once it has sent what it holds."""
        self.doppler.close()

    async def drained(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for every v1 subscription to end."""
        return await self.doppler.drained(timeout)
