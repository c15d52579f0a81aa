"""Frames: what the traffic controller asks the routers for, and their envelopes as v1 frames.

Requests: an app stream reads every type of the app's source id; the firehose reads every source,
narrowed by ``filter-type`` (``logs``: logs; ``metrics``: counters, gauges, timers and events,
i.e. everything but logs, as upstream's MetricFilter; anything else: everything), with the
subscription id as shard id, so the routers split one subscription's envelopes among its
websockets, also across several controllers.

Frames: each v2 envelope becomes the v1 envelopes of go-loggregator's ToV1 (none for an event,
several for a gauge of unrelated metrics), each marshalled into one binary websocket frame; plain
logs take a shortcut with the same outcome (:mod:`logframes`).
An envelope whose v1 form lacks a required field is skipped and counted, as upstream's router
does.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from google.protobuf.message import DecodeError

from lgr.core._proto.loggregator.v2 import egress_pb2, envelope_pb2
from lgr.core.apps.tc.logframes import LogFrames
from lgr.core.apps.tc.metrics import TcMetrics
from lgr.core.conversion import V1MarshalError, marshal_v1, to_v1

ALL_KINDS = ("log", "counter", "gauge", "timer", "event")
METRIC_KINDS = ("counter", "gauge", "timer", "event")
FILTERS = {"logs": ("log",), "metrics": METRIC_KINDS}

log = logging.getLogger("lgr.tc")

_parse_batch = envelope_pb2.EnvelopeBatch.FromString


def egress_request(source_id: str, kinds: tuple[str, ...],
                   shard_id: str = "") -> egress_pb2.EgressBatchRequest:
    """A request for ``kinds`` of ``source_id`` ("" = every source)."""
    selectors = []
    for kind in kinds:
        selector = egress_pb2.Selector(source_id=source_id)
        getattr(selector, kind).SetInParent()
        selectors.append(selector)
    return egress_pb2.EgressBatchRequest(shard_id=shard_id, selectors=selectors,
                                         use_preferred_tags=True)


def app_request(app_id: str) -> egress_pb2.EgressBatchRequest:
    """What /apps/{app_id}/stream reads: every type of the app."""
    return egress_request(app_id, ALL_KINDS)


def firehose_request(subscription_id: str, filter_type: str) -> egress_pb2.EgressBatchRequest:
    """What /firehose/{subscription_id}?filter-type=... reads, sharded by subscription id."""
    return egress_request("", FILTERS.get(filter_type, ALL_KINDS), shard_id=subscription_id)


class FrameEncoder:
    """Turns routers' EnvelopeBatch bytes into v1 frames, counting what it must skip."""

    def __init__(self, metrics: TcMetrics) -> None:
        self._metrics = metrics
        self._logs = LogFrames()

    def frames(self, batch: bytes) -> list[bytes]:
        """The v1 frames of every envelope in ``batch`` ([] for a malformed batch, logged)."""
        try:
            envelopes = _parse_batch(batch).batch
        except DecodeError as exc:
            log.warning("skipped a malformed batch from a router: %s", exc)
            return []
        self._metrics.ingress.inc(len(envelopes))
        return self.convert(envelopes)

    def convert(self, envelopes: Iterable[envelope_pb2.Envelope]) -> list[bytes]:
        """The v1 frames of ``envelopes``, in order."""
        out: list[bytes] = []
        failed = 0
        log_frame = self._logs.frame
        for env in envelopes:
            if env.WhichOneof("message") == "log":
                frame = log_frame(env)
                if frame is not None:
                    out.append(frame)
                    continue
            for v1 in to_v1(env):
                try:
                    out.append(marshal_v1(v1))
                except V1MarshalError:
                    failed += 1
        if failed:
            self._metrics.marshal_errors.inc(failed)
        return out
