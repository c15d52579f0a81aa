"""The router's v1 routing table: filters by app id and log/metric, shard groups, app ids."""

from __future__ import annotations

import itertools

import pytest

from lgr.core._proto.events import envelope_pb2 as v1_envelope_pb2
from lgr.core._proto.events import error_pb2, http_pb2, log_pb2, metric_pb2, uuid_pb2
from lgr.core._proto.plumbing import doppler_pb2
from lgr.core.apps.router.v1_routing import (
    LOG_TYPE,
    METRIC_TYPE,
    NO_TYPE,
    V1Router,
    app_id,
    envelope_type,
    filters_for,
    request_filter,
    route_item,
)

V1 = v1_envelope_pb2.Envelope


def request(app: str = "", kind: str | None = None, shard: str = "",
            with_filter: bool = True) -> doppler_pb2.SubscriptionRequest:
    req = doppler_pb2.SubscriptionRequest(shardID=shard)
    if with_filter:
        req.filter.appID = app
        if kind is not None:
            getattr(req.filter, kind).SetInParent()
    return req


class Sink:
    def __init__(self) -> None:
        self.got: list[bytes] = []

    def __call__(self, items: list[bytes]) -> None:
        self.got.extend(items)


def test_request_filter_reads_app_and_type():
    assert request_filter(request(with_filter=False)) == ("", NO_TYPE)
    assert request_filter(request()) == ("", NO_TYPE)
    assert request_filter(request("a")) == ("a", NO_TYPE)
    assert request_filter(request("a", "log")) == ("a", LOG_TYPE)
    assert request_filter(request("", "metric")) == ("", METRIC_TYPE)


def test_filters_for_an_envelope_as_upstream_builds_them():
    assert filters_for("", LOG_TYPE) == (("", LOG_TYPE), ("", NO_TYPE))
    assert filters_for("app", METRIC_TYPE) == (
        ("", METRIC_TYPE), ("", NO_TYPE), ("app", NO_TYPE), ("app", METRIC_TYPE))


# (subscriber's app filter, its type filter) -> which of the four envelopes it gets:
# a log of app "a", a metric of app "a", a log of app "b", a log with no app id.
CASES = [
    (("", None), {"log-a", "metric-a", "log-b", "log-none"}),
    (("", "log"), {"log-a", "log-b", "log-none"}),
    (("", "metric"), {"metric-a"}),
    (("a", None), {"log-a", "metric-a"}),
    (("a", "log"), {"log-a"}),
    (("a", "metric"), {"metric-a"}),
    (("b", None), {"log-b"}),
    (("c", None), set()),
]
ENVELOPES = {"log-a": ("a", LOG_TYPE), "metric-a": ("a", METRIC_TYPE),
             "log-b": ("b", LOG_TYPE), "log-none": ("", LOG_TYPE)}


@pytest.mark.parametrize(("sub", "expected"), CASES)
@pytest.mark.parametrize("shard", ["", "shard-1"])
def test_each_filter_gets_what_it_selects(sub, expected, shard):
    router = V1Router()
    sink = Sink()
    router.subscribe(request(sub[0], sub[1], shard=shard), sink)
    for name, (app, kind) in ENVELOPES.items():
        router.publish_batch([(name.encode(), app, kind)])
    assert sorted(sink.got) == sorted(n.encode() for n in expected)


def test_unsharded_subscribers_each_get_a_copy_and_a_shard_group_one():
    picks = itertools.cycle([0, 1, 1])
    router = V1Router(rand=lambda n: next(picks) % n)
    solo1, solo2, g1, g2, other = Sink(), Sink(), Sink(), Sink(), Sink()
    router.subscribe(request(), solo1)
    router.subscribe(request(), solo2)
    router.subscribe(request(shard="g"), g1)
    router.subscribe(request(shard="g"), g2)
    router.subscribe(request(shard="h"), other)
    items = [(f"e{i}".encode(), "app", LOG_TYPE) for i in range(6)]
    assert router.publish_batch(items) == 6 * 4
    assert solo1.got == solo2.got == other.got == [d for d, _, _ in items]
    assert g1.got == [b"e0", b"e3"]
    assert g2.got == [b"e1", b"e2", b"e4", b"e5"]


def test_one_subscriber_under_several_matching_filters_of_its_group():
    # Shard groups are per filter: an app stream and a firehose with one shard id are two groups.
    router = V1Router(rand=lambda n: 0)
    by_app, firehose = Sink(), Sink()
    router.subscribe(request("a", shard="s"), by_app)
    router.subscribe(request(shard="s"), firehose)
    router.publish_batch([(b"x", "a", METRIC_TYPE)])
    assert by_app.got == [b"x"] and firehose.got == [b"x"]


def test_unsubscribe_stops_deliveries_and_is_idempotent():
    router = V1Router()
    sink = Sink()
    sub = router.subscribe(request(), sink)
    assert len(router) == 1
    sub.unsubscribe()
    sub.unsubscribe()
    assert len(router) == 0
    assert router.publish_batch([(b"x", "a", LOG_TYPE)]) == 0
    assert sink.got == []


def _env(event_type: int, **fields) -> v1_envelope_pb2.Envelope:
    return V1(origin="o", eventType=event_type, **fields)


def test_app_id_of_each_event_type():
    log = _env(V1.LogMessage, logMessage=log_pb2.LogMessage(
        message=b"m", message_type=log_pb2.LogMessage.OUT, timestamp=1, app_id="app-log"))
    cm = _env(V1.ContainerMetric, containerMetric=metric_pb2.ContainerMetric(
        applicationId="app-cm", instanceIndex=1, cpuPercentage=1.0, memoryBytes=1, diskBytes=1))
    uuid = uuid_pb2.UUID(low=0x0706050403020100, high=0x0F0E0D0C0B0A0908)
    http = _env(V1.HttpStartStop, httpStartStop=http_pb2.HttpStartStop(
        startTimestamp=1, stopTimestamp=2, requestId=uuid_pb2.UUID(low=1, high=2),
        peerType=http_pb2.Client, method=http_pb2.GET, uri="/", remoteAddress="r",
        userAgent="u", statusCode=200, contentLength=3, applicationId=uuid))
    http_no_app = _env(V1.HttpStartStop, httpStartStop=http_pb2.HttpStartStop(
        startTimestamp=1, stopTimestamp=2, requestId=uuid_pb2.UUID(low=1, high=2),
        peerType=http_pb2.Client, method=http_pb2.GET, uri="/", remoteAddress="r",
        userAgent="u", statusCode=200, contentLength=3))
    http_zero_app = V1.FromString(http_no_app.SerializeToString())
    http_zero_app.httpStartStop.applicationId.CopyFrom(uuid_pb2.UUID(low=0, high=0))
    counter = _env(V1.CounterEvent, counterEvent=metric_pb2.CounterEvent(name="c", delta=1))
    value = _env(V1.ValueMetric, valueMetric=metric_pb2.ValueMetric(name="v", value=1, unit="u"))
    error = _env(V1.Error, error=error_pb2.Error(source="s", code=1, message="m"))
    assert app_id(log) == "app-log"
    assert app_id(cm) == "app-cm"
    # Little-endian low then high, printed 8-4-4-4-12, as upstream's formatUUID.
    assert app_id(http) == "00010203-0405-0607-0809-0a0b0c0d0e0f"
    assert app_id(http_no_app) == "system"
    # A set but zero UUID is still formatted (upstream checks for nil, not zero).
    assert app_id(http_zero_app) == "00000000-0000-0000-0000-000000000000"
    assert app_id(counter) == app_id(value) == app_id(error) == "system"
    assert envelope_type(log) == LOG_TYPE
    assert {envelope_type(e) for e in (cm, http, counter, value, error)} == {METRIC_TYPE}
    # A LogMessage without app_id belongs to no app: only unfiltered-by-app subscribers get it.
    bare = _env(V1.LogMessage, logMessage=log_pb2.LogMessage(
        message=b"m", message_type=log_pb2.LogMessage.OUT, timestamp=1))
    assert route_item(b"d", bare) == (b"d", "", LOG_TYPE)


def test_a_non_utf8_app_id_matches_no_app_filter():
    env = _env(V1.LogMessage, logMessage=log_pb2.LogMessage(
        message=b"m", message_type=log_pb2.LogMessage.OUT, timestamp=1))
    raw = env.SerializeToString()
    # Append LogMessage.app_id (field 4) = b"\xff" inside logMessage (field 8) by re-encoding.
    inner = env.logMessage.SerializeToString() + b"\x22\x01\xff"
    head = V1(origin="o", eventType=V1.LogMessage).SerializeToString()
    data = head + b"\x42" + bytes([len(inner)]) + inner
    parsed = V1.FromString(data)
    app = app_id(parsed)
    assert app != "\ufffd" and app.encode("utf-8", "surrogateescape") == b"\xff"
    assert raw != data
