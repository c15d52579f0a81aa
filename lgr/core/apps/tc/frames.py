"""Frames: what the traffic controller asks the routers for, and the v1 frames it sends.

Requests are upstream's: each websocket opens ``plumbing.Doppler/BatchSubscribe`` on every router
with a SubscriptionRequest. An app stream sends ``filter{appID}`` (every type of the app); the
firehose sends the subscription id as shard id, so the routers split one subscription's envelopes
among its websockets, also across several controllers, and a filter only for ``filter-type=logs``
(log) or ``metrics`` (metric: every event type but LogMessage); anything else has no filter.
The routers answer ``BatchResponse{repeated bytes payload}``, each payload one marshalled v1
envelope, and each goes to the websocket as one binary frame exactly as received
(:func:`v1_frames`): over an upstream router or an lgr one, a v1 event reaches the client byte for
byte as its emitter sent it, and a v2 envelope as the router's ToV1 of it.

The recent-logs store (no log cache) still reads v2 envelopes; :class:`FrameEncoder` turns them
into v1 frames by go-loggregator's ToV1 (none for an event, several for a gauge of unrelated
metrics), plain logs by the shortcut of :mod:`lgr.core.conversion.logframes`. An envelope whose
v1 form lacks a required field is skipped and counted, as upstream's router does; the store
counts the envelopes it could not parse through :meth:`FrameEncoder.note_malformed`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from lgr.core._proto.loggregator.v2 import egress_pb2, envelope_pb2
from lgr.core._proto.plumbing import doppler_pb2
from lgr.core.apps.tc.metrics import TcMetrics
from lgr.core.conversion import V1MarshalError, marshal_v1, to_v1
from lgr.core.conversion.logframes import LogFrames
from lgr.core.envelope import MalformedEnvelope, split_batch

log = logging.getLogger("lgr.tc")


def egress_request(source_id: str, kinds: tuple[str, ...],
                   shard_id: str = "") -> egress_pb2.EgressBatchRequest:
    """A v2 request for ``kinds`` of ``source_id`` ("" = every source)."""
    selectors = []
    for kind in kinds:
        selector = egress_pb2.Selector(source_id=source_id)
        getattr(selector, kind).SetInParent()
        selectors.append(selector)
    return egress_pb2.EgressBatchRequest(shard_id=shard_id, selectors=selectors,
                                         use_preferred_tags=True)


def app_request(app_id: str) -> doppler_pb2.SubscriptionRequest:
    """What /apps/{app_id}/stream subscribes to: every type of the app."""
    return doppler_pb2.SubscriptionRequest(filter=doppler_pb2.Filter(appID=app_id))


def firehose_request(subscription_id: str, filter_type: str) -> doppler_pb2.SubscriptionRequest:
    """What /firehose/{subscription_id}?filter-type=... subscribes to, sharded by the id."""
    request = doppler_pb2.SubscriptionRequest(shardID=subscription_id)
    if filter_type == "logs":
        request.filter.log.SetInParent()
    elif filter_type == "metrics":
        request.filter.metric.SetInParent()
    return request


def v1_frames(batch: bytes, metrics: TcMetrics) -> list[bytes]:
    """The payloads of a router's BatchResponse, one frame each ([] when malformed, logged)."""
    try:
        payloads = split_batch(batch)  # BatchResponse has EnvelopeBatch's wire form
    except MalformedEnvelope as exc:
        log.warning("skipped a malformed batch from a router: %s", exc)
        return []
    metrics.ingress.inc(len(payloads))
    return payloads


class FrameEncoder:
    """Turns v2 envelopes into v1 frames, counting what it must skip."""

    def __init__(self, metrics: TcMetrics) -> None:
        self._metrics = metrics
        self._logs = LogFrames()

    def note_malformed(self, count: int) -> None:
        """Count ``count`` envelopes from routers skipped because they do not parse."""
        if count:
            self._metrics.malformed.inc(count)

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
