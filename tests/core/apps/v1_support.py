"""Test helpers for the v1 (dropsonde) plane: envelopes of every type, a Pusher and a subscriber
written with the stubs generated from plumbing/doppler.proto."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import grpc

from lgr.core._proto.events import envelope_pb2 as v1_envelope_pb2
from lgr.core._proto.events import error_pb2, http_pb2, log_pb2, metric_pb2, uuid_pb2
from lgr.core._proto.plumbing import doppler_pb2, doppler_pb2_grpc
from lgr.core.conversion.uuids import uuid_from_string
from tests.core.apps.firehose_support import Collector

TIMEOUT = 10.0
V1 = v1_envelope_pb2.Envelope
APP_ID = "f47ac10b-58cc-4372-a567-0e02b2c3d479"
APP_UUID = uuid_from_string(APP_ID)


def _base(event_type: int, timestamp: int) -> v1_envelope_pb2.Envelope:
    return V1(origin="lgrh-origin", eventType=event_type, timestamp=timestamp,
              deployment="cf", job="diego-cell", index="4f8a3c2e", ip="10.0.16.5",
              tags={"source_id": "lgrh-udp", "zone": "z1"})


def every_v1_kind(app_id: str = APP_ID) -> list[v1_envelope_pb2.Envelope]:
    """One v1 envelope of each of the six event types with every field set.

    The LogMessage's own timestamp differs from the envelope's, and every envelope carries a
    ``source_id`` tag that differs from the app id: both are lost on a v1 → v2 → v1 trip.
    """
    log = _base(V1.LogMessage, 1700000000000000101)
    log.logMessage.CopyFrom(log_pb2.LogMessage(
        message=b"hello \xff world", message_type=log_pb2.LogMessage.ERR,
        timestamp=1700000000000000095, app_id=app_id, source_type="APP/PROC/WEB",
        source_instance="2"))
    value = _base(V1.ValueMetric, 1700000000000000102)
    value.valueMetric.CopyFrom(metric_pb2.ValueMetric(name="latency", value=1.5, unit="ms"))
    counter = _base(V1.CounterEvent, 1700000000000000103)
    counter.counterEvent.CopyFrom(metric_pb2.CounterEvent(name="requests", delta=3, total=10))
    http = _base(V1.HttpStartStop, 1700000000000000104)
    http.httpStartStop.CopyFrom(http_pb2.HttpStartStop(
        startTimestamp=1700000000000000000, stopTimestamp=1700000000000000050,
        requestId=uuid_pb2.UUID(low=11, high=12), peerType=http_pb2.Server,
        method=http_pb2.POST, uri="https://app.example.com/x", remoteAddress="10.0.0.9:5000",
        userAgent="curl/8", statusCode=201, contentLength=42, applicationId=APP_UUID,
        instanceIndex=2, instanceId="b3015d69", forwarded=["10.1.1.1", "10.2.2.2"]))
    error = _base(V1.Error, 1700000000000000105)
    error.error.CopyFrom(error_pb2.Error(source="router", code=-3, message="broke"))
    container = _base(V1.ContainerMetric, 1700000000000000106)
    container.containerMetric.CopyFrom(metric_pb2.ContainerMetric(
        applicationId=app_id, instanceIndex=2, cpuPercentage=12.5, memoryBytes=1 << 30,
        diskBytes=1 << 31, memoryBytesQuota=1 << 32, diskBytesQuota=1 << 33))
    return [log, value, counter, http, error, container]


async def push(ch: grpc.aio.Channel, payloads: Iterable[bytes]) -> None:
    """Send each payload as one EnvelopeData on one Pusher stream; wait for its response."""
    stub = doppler_pb2_grpc.DopplerIngestorStub(ch)
    messages = [doppler_pb2.EnvelopeData(payload=p) for p in payloads]
    await asyncio.wait_for(stub.Pusher(iter(messages)), TIMEOUT)


def subscription(app_id: str = "", kind: str | None = None,
                 shard_id: str = "") -> doppler_pb2.SubscriptionRequest:
    """A SubscriptionRequest; no app id and no kind leaves the filter out (the firehose)."""
    req = doppler_pb2.SubscriptionRequest(shardID=shard_id)
    if app_id or kind:
        req.filter.appID = app_id
        if kind:
            getattr(req.filter, kind).SetInParent()
    return req


class V1Collector(Collector):
    """Reads a BatchSubscribe (or Subscribe) stream in the background, keeping the payloads."""

    def __init__(self, ch: grpc.aio.Channel, request: doppler_pb2.SubscriptionRequest,
                 batched: bool = True) -> None:
        # Not super().__init__(), which opens a v2 stream; the rest of Collector is shared.
        stub = doppler_pb2_grpc.DopplerStub(ch)
        self.payloads: list[bytes] = []
        self.messages = 0
        self.error: grpc.aio.AioRpcError | None = None
        self._batched = batched
        self.call = (stub.BatchSubscribe if batched else stub.Subscribe)(request)
        self._task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        try:
            async for msg in self.call:
                self.messages += 1
                if self._batched:
                    self.payloads.extend(msg.payload)
                else:
                    self.payloads.append(msg.payload)
        except grpc.aio.AioRpcError as exc:
            self.error = exc

    @property
    def envelopes(self) -> list[v1_envelope_pb2.Envelope]:  # type: ignore[override]
        """The payloads parsed as v1 envelopes."""
        return [V1.FromString(p) for p in self.payloads]
