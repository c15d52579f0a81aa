"""Tests for lgr.core.conversion: upstream's vectors, Go-semantics edge cases, and properties."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format, unknown_fields
from hypothesis import given, settings
from hypothesis import strategies as st

from lgr.core._proto.events import envelope_pb2 as v1_envelope_pb2
from lgr.core._proto.events import error_pb2, http_pb2, log_pb2, metric_pb2, uuid_pb2
from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.conversion import V1MarshalError, marshal_v1, to_v1, to_v2
from lgr.core.conversion.gostrconv import (
    float_to_int64,
    float_to_uint64,
    format_f,
    parse_int,
    parse_int32_clamped,
    wrap_int32,
)
from lgr.core.conversion.uuids import ZERO, uuid_from_string, uuid_to_string

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
V1_TO_V2 = json.loads((VECTORS / "v1_to_v2.json").read_text())
V2_TO_V1 = json.loads((VECTORS / "v2_to_v1.json").read_text())
V1 = v1_envelope_pb2.Envelope
V2 = envelope_pb2.Envelope


def by_name(cases: list[dict[str, Any]]) -> Any:
    return pytest.mark.parametrize("case", cases, ids=[c["name"] for c in cases])


def v1_from_hex(hex_: str) -> v1_envelope_pb2.Envelope:
    return V1.FromString(bytes.fromhex(hex_))


def v2_from_hex(hex_: str) -> envelope_pb2.Envelope:
    return V2.FromString(bytes.fromhex(hex_))


# --- v1 -> v2 -------------------------------------------------------------------------------

@by_name(V1_TO_V2)
@pytest.mark.parametrize("preferred", [True, False], ids=["preferred", "deprecated"])
def test_to_v2_matches_upstream(case: dict[str, Any], preferred: bool) -> None:
    key = "v2_preferred" if preferred else "v2_deprecated"
    expected = v2_from_hex(case[key + "_hex"])
    # The readable form and the bytes are two views of one answer.
    assert json_format.ParseDict(case[key], V2()) == expected
    v1 = v1_from_hex(case["v1_envelope_hex"])
    before = v1.SerializeToString(deterministic=True)
    assert to_v2(v1, preferred) == expected
    assert v1.SerializeToString(deterministic=True) == before


@by_name(V1_TO_V2)
def test_v1_vector_json_matches_its_hex(case: dict[str, Any]) -> None:
    assert json_format.ParseDict(case["v1_envelope"], V1()) == v1_from_hex(case["v1_envelope_hex"])


def test_to_v2_non_utf8_v1_strings_are_replaced_not_fatal() -> None:
    # proto2 strings may hold any bytes; v2 strings must be UTF-8.
    v1 = V1()
    v1.MergeFromString(
        V1(eventType=V1.CounterEvent, counterEvent=metric_pb2.CounterEvent(name="c", delta=1),
           origin="x").SerializeToString()
        + b"\x0a\x02\xff\x41"  # origin = b"\xffA"
    )
    env = to_v2(v1, True)
    assert env.tags["origin"] == "\ufffdA"


def test_to_v2_error_message_bytes_pass_through() -> None:
    v1 = V1()
    v1.MergeFromString(
        V1(origin="o", eventType=V1.Error,
           error=error_pb2.Error(source="s", code=1, message="")).SerializeToString()
        + b"\x5a\x04\x1a\x02\xff\xfe"  # error.message = b"\xff\xfe"
    )
    assert to_v2(v1, True).log.payload == b"\xff\xfe"


def test_to_v2_empty_source_id_tag_still_wins_over_deployment_job() -> None:
    v1 = V1(origin="o", eventType=V1.CounterEvent, deployment="d", job="j",
            counterEvent=metric_pb2.CounterEvent(name="c", delta=1), tags={"source_id": ""})
    env = to_v2(v1, True)
    assert env.source_id == ""
    assert "source_id" not in env.tags


def test_to_v2_http_uuids_and_app_id() -> None:
    app = "b3015d69-09cd-476d-aace-ad2d824d5ab7"
    v1 = V1(
        origin="gorouter", eventType=V1.HttpStartStop, timestamp=9,
        httpStartStop=http_pb2.HttpStartStop(
            startTimestamp=1, stopTimestamp=2, requestId=uuid_from_string(app),
            applicationId=uuid_from_string(app), peerType=http_pb2.Server, method=http_pb2.PATCH,
            uri="/", remoteAddress="r", userAgent="u", statusCode=200, contentLength=5,
            instanceIndex=4, instanceId="rid", forwarded=["a", "b"],
        ),
    )
    env = to_v2(v1, True)
    assert (env.source_id, env.instance_id) == (app, "4")
    assert env.tags["request_id"] == app
    assert env.tags["peer_type"] == "Server"
    assert env.tags["method"] == "PATCH"
    assert env.tags["forwarded"] == "a\nb"
    assert (env.timer.name, env.timer.start, env.timer.stop) == ("http", 1, 2)


# --- v2 -> v1 -------------------------------------------------------------------------------

def expected_v1(case: dict[str, Any]) -> list[v1_envelope_pb2.Envelope]:
    # Python's parser keeps timer_no_tags's invalid enum 0s as unknown fields, as to_v1 does.
    return [v1_from_hex(e["hex"]) for e in case["v1_envelopes"]]


@by_name(V2_TO_V1)
def test_to_v1_matches_upstream(case: dict[str, Any]) -> None:
    v2 = v2_from_hex(case["v2_envelope_hex"])
    assert json_format.ParseDict(case["v2_envelope"], V2()) == v2
    before = v2.SerializeToString(deterministic=True)
    # Multi-metric gauges are sorted by name in the vectors, and by to_v1.
    assert to_v1(v2) == expected_v1(case)
    assert v2.SerializeToString(deterministic=True) == before


@by_name(V2_TO_V1)
def test_to_v1_bytes_and_strict_marshal_match_upstream(case: dict[str, Any]) -> None:
    got = to_v1(v2_from_hex(case["v2_envelope_hex"]))
    assert len(got) == len(case["v1_envelopes"])
    for env, want in zip(got, case["v1_envelopes"]):
        error = want["strict_marshal_error"]
        if error is None:
            assert env.SerializeToString(deterministic=True).hex() == want["hex"]
            assert V1.FromString(marshal_v1(env)) == env
        else:
            # Go's errors randomly use a no-break space after "proto:".
            with pytest.raises(V1MarshalError) as info:
                marshal_v1(env)
            assert str(info.value) == error.replace("\xa0", " ")
            # Bytes written with AllowPartial: same content, Python puts unknown fields last.
            assert V1.FromString(env.SerializePartialToString()) == v1_from_hex(want["hex"])


def test_timer_no_tags_keeps_enum_zero_as_wire_data() -> None:
    case = next(c for c in V2_TO_V1 if c["name"] == "timer_no_tags")
    (env,) = to_v1(v2_from_hex(case["v2_envelope_hex"]))
    fields = [(f.field_number, f.wire_type, f.data)
              for f in unknown_fields.UnknownFieldSet(env.httpStartStop)]
    assert fields == [(4, 0, 0), (5, 0, 0)]
    assert not env.httpStartStop.HasField("requestId")
    assert not env.httpStartStop.HasField("applicationId")
    assert list(env.httpStartStop.forwarded) == [""]


def test_marshal_v1_accepts_enum_zero_like_go() -> None:
    v2 = envelope_pb2.Envelope(
        timestamp=1, source_id="s", timer=envelope_pb2.Timer(name="t", start=1, stop=2),
        tags={"request_id": "b3015d69-09cd-476d-aace-ad2d824d5ab7", "method": "NOPE"},
    )
    (env,) = to_v1(v2)
    assert not env.httpStartStop.HasField("peerType")
    assert not env.httpStartStop.HasField("method")
    data = marshal_v1(env)  # upstream's proto.Marshal succeeds: the 0s count as set
    back = V1.FromString(data)
    assert back == env
    assert [f.field_number for f in unknown_fields.UnknownFieldSet(back.httpStartStop)] == [4, 5]


def test_marshal_v1_reports_a_missing_required_field() -> None:
    with pytest.raises(V1MarshalError, match="required field events.Envelope.origin"):
        marshal_v1(V1(eventType=V1.LogMessage))


def test_to_v1_error_with_non_utf8_payload_keeps_the_bytes() -> None:
    v2 = envelope_pb2.Envelope(
        timestamp=3, tags={"__v1_type": "Error", "code": "9"},
        log=envelope_pb2.Log(payload=b"\xff\xfe"),
    )
    (env,) = to_v1(v2)
    assert env.eventType == V1.Error
    assert env.error.code == 9
    assert V1.FromString(marshal_v1(env)).error.message == b"\xff\xfe"


def test_to_v1_deprecated_values_are_formatted_like_go() -> None:
    v2 = envelope_pb2.Envelope(
        timestamp=1, source_id="s", counter=envelope_pb2.Counter(name="c"),
        deprecated_tags={
            "i": envelope_pb2.Value(integer=-42),
            "d": envelope_pb2.Value(decimal=1.5),
            "n": envelope_pb2.Value(decimal=math.nan),
            "t": envelope_pb2.Value(text="x"),
            "e": envelope_pb2.Value(),
            "origin": envelope_pb2.Value(integer=7),
        },
    )
    (env,) = to_v1(v2)
    assert dict(env.tags) == {"i": "-42", "d": "1.500000", "n": "NaN", "t": "x", "e": "",
                              "source_id": "s"}
    assert env.origin == "7"


def test_to_v1_timer_parses_numbers_like_go() -> None:
    v2 = envelope_pb2.Envelope(
        timestamp=1, source_id="s", instance_id="4294967297",  # int32(2**32 + 1) == 1
        timer=envelope_pb2.Timer(name="http", start=1, stop=2),
        tags={"status_code": " 200", "content_length": "+12", "peer_type": "Server",
              "method": "GET"},
    )
    (env,) = to_v1(v2)
    http = env.httpStartStop
    assert (http.statusCode, http.contentLength, http.instanceIndex) == (0, 12, 1)
    assert (http.peerType, http.method) == (http_pb2.Server, http_pb2.GET)


def test_to_v1_container_metric_edge_values() -> None:
    metrics = {name: envelope_pb2.GaugeValue(unit="bytes", value=1.0)
               for name in ("cpu", "memory", "disk", "memory_quota", "disk_quota")}
    metrics["memory"].value = -1.0
    metrics["disk"].value = 2.0**64
    v2 = envelope_pb2.Envelope(timestamp=1, source_id="app", instance_id="7",
                               gauge=envelope_pb2.Gauge(metrics=metrics))
    (env,) = to_v1(v2)
    cm = env.containerMetric
    assert cm.instanceIndex == 7
    assert cm.memoryBytes == 2**64 - 1
    assert cm.diskBytes == 2**63
    assert "instance_id" not in env.tags


# --- Go semantics helpers -------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "value"),
    [("12", 12), ("+12", 12), ("-0", 0), ("-12", -12), (" 1", 0), ("1 ", 0), ("1_0", 0),
     ("", 0), ("12.000000", 0), ("١٢", 0), ("0x10", 0), (str(2**63 - 1), 2**63 - 1),
     (str(2**63), 0), (str(-(2**63)), -(2**63))],
)
def test_parse_int_follows_strconv(text: str, value: int) -> None:
    assert parse_int(text) == value


def test_parse_int32_clamped_and_wrap_int32() -> None:
    assert parse_int32_clamped("abc") == 0
    assert parse_int32_clamped("99999999999") == 2**31 - 1
    assert parse_int32_clamped("-99999999999") == -(2**31)
    assert wrap_int32(2**31) == -(2**31)
    assert wrap_int32(-1) == -1
    assert wrap_int32(2**32 + 5) == 5


def test_float_conversions_follow_go_on_amd64() -> None:
    assert float_to_uint64(2.9) == 2
    assert float_to_uint64(-1.5) == 2**64 - 1
    assert float_to_uint64(math.nan) == 2**63
    assert float_to_uint64(math.inf) == 2**63
    assert float_to_int64(-6.7) == -6
    assert float_to_int64(math.nan) == -(2**63)
    assert float_to_int64(1e30) == -(2**63)


def test_format_f_spells_specials_like_go() -> None:
    assert [format_f(v) for v in (1.5, -0.0, math.inf, -math.inf, math.nan, 1e21)] == [
        "1.500000", "-0.000000", "+Inf", "-Inf", "NaN", "1000000000000000000000.000000"]


def test_uuid_string_order_matches_upstream() -> None:
    # From go-loggregator's own http test: low 0x6d47cd09695d01b3, high 0xb75a4d822dadceaa.
    uuid = uuid_pb2.UUID(low=0x6D47CD09695D01B3, high=0xB75A4D822DADCEAA)
    assert uuid_to_string(uuid) == "b3015d69-09cd-476d-aace-ad2d824d5ab7"
    assert uuid_from_string("B3015D69-09CD-476D-AACE-AD2D824D5AB7") == uuid
    assert uuid_to_string(uuid_pb2.UUID()) == ZERO


@pytest.mark.parametrize(
    "text",
    ["", "not-a-uuid", "b3015d6909cd476daaceead2d824d5ab7",  # 33, no dashes
     "b3015d69-09cd-476d-aace-ad2d824d5ab", "b3015d69 09cd-476d-aace-ad2d824d5ab7",
     "g3015d69-09cd-476d-aace-ad2d824d5ab7", "b3015d69-09cd-476d-aace--d2d824d5ab7"],
)
def test_uuid_from_string_rejects_non_uuids(text: str) -> None:
    assert uuid_from_string(text) is None


@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))
def test_uuid_round_trip(low: int, high: int) -> None:
    uuid = uuid_pb2.UUID(low=low, high=high)
    assert uuid_from_string(uuid_to_string(uuid)) == uuid


# --- properties over generated v1 envelopes -------------------------------------------------

text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=10)
reserved = {"origin", "deployment", "job", "index", "ip", "__v1_type", "source_id", "instance_id",
            "source_type", "source", "code", "request_id", "peer_type", "method", "uri",
            "remote_address", "user_agent", "status_code", "content_length",
            "routing_instance_id", "forwarded"}
plain_tags = st.dictionaries(text.filter(lambda k: k not in reserved), text, max_size=3)
int32 = st.integers(-(2**31), 2**31 - 1)
int64 = st.integers(-(2**63), 2**63 - 1)
uint64 = st.integers(0, 2**64 - 1)
uuids = st.builds(uuid_pb2.UUID, low=uint64, high=uint64)

events = st.one_of(
    st.builds(lambda m, t, a, s, i: ("logMessage", log_pb2.LogMessage(
        message=m, message_type=t, timestamp=1, app_id=a, source_type=s, source_instance=i)),
        st.binary(max_size=20), st.sampled_from([1, 2]), text, text, text),
    st.builds(lambda n, v, u: ("valueMetric", metric_pb2.ValueMetric(name=n, value=v, unit=u)),
              text, st.floats(allow_nan=False), text),
    st.builds(lambda n, d, t: ("counterEvent", metric_pb2.CounterEvent(name=n, delta=d, total=t)),
              text, uint64, uint64),
    st.builds(lambda s, c, m: ("error", error_pb2.Error(source=s, code=c, message=m)),
              text, int32, text),
    st.builds(lambda a, i, c, m, d, mq, dq: ("containerMetric", metric_pb2.ContainerMetric(
        applicationId=a, instanceIndex=i, cpuPercentage=c, memoryBytes=m, diskBytes=d,
        memoryBytesQuota=mq, diskBytesQuota=dq)),
        text, int32, st.floats(allow_nan=False), *[st.integers(0, 2**53)] * 4),
    st.builds(lambda r, a, p, meth, s, c, i, f: ("httpStartStop", http_pb2.HttpStartStop(
        startTimestamp=1, stopTimestamp=2, requestId=r, applicationId=a, peerType=p, method=meth,
        uri="/u", remoteAddress="r", userAgent="ua", statusCode=s, contentLength=c,
        instanceIndex=i, instanceId="rid", forwarded=f)),
        uuids, uuids, st.sampled_from([1, 2]), st.integers(1, 44), int32, int64, int32,
        st.lists(text.filter(lambda s: "\n" not in s), min_size=1, max_size=3)),
)
EVENT_TYPES = {"logMessage": V1.LogMessage, "valueMetric": V1.ValueMetric,
               "counterEvent": V1.CounterEvent, "error": V1.Error,
               "containerMetric": V1.ContainerMetric, "httpStartStop": V1.HttpStartStop}


@st.composite
def v1_envelopes(draw: st.DrawFn) -> v1_envelope_pb2.Envelope:
    field, body = draw(events)
    env = V1(origin=draw(text), eventType=EVENT_TYPES[field], timestamp=draw(int64),
             deployment=draw(text), job=draw(text), index=draw(text), ip=draw(text),
             tags=draw(plain_tags))
    getattr(env, field).CopyFrom(body)
    return env


PROPS = settings(max_examples=150, deadline=None)


@PROPS
@given(v1_envelopes())
def test_deprecated_mode_is_preferred_mode_as_text_values(v1: v1_envelope_pb2.Envelope) -> None:
    preferred = to_v2(v1, True)
    deprecated = to_v2(v1, False)
    assert not preferred.deprecated_tags and not deprecated.tags
    assert {k: v.text for k, v in deprecated.deprecated_tags.items()} == dict(preferred.tags)
    deprecated.ClearField("deprecated_tags")
    preferred.ClearField("tags")
    assert deprecated == preferred
    assert to_v1(to_v2(v1, True)) == to_v1(to_v2(v1, False))


@PROPS
@given(v1_envelopes())
def test_v1_survives_a_round_trip_through_v2(v1: v1_envelope_pb2.Envelope) -> None:
    (back,) = to_v1(to_v2(v1, True))
    for name in ("origin", "eventType", "timestamp", "deployment", "job", "index", "ip"):
        assert getattr(back, name) == getattr(v1, name), name
    assert {k: v for k, v in back.tags.items() if k != "source_id"} == dict(v1.tags)
    field = _event_field(v1)
    original, converted = getattr(v1, field), getattr(back, field)
    if field == "logMessage":
        assert (converted.message, converted.message_type, converted.source_type,
                converted.source_instance) == (original.message, original.message_type,
                                               original.source_type, original.source_instance)
        assert converted.timestamp == v1.timestamp  # upstream drops the log's own timestamp
    elif field == "containerMetric":
        if original.applicationId:
            assert converted == original
    elif field == "httpStartStop":
        # A zero applicationId is not a source_id, so it does not come back.
        if uuid_to_string(original.applicationId) != ZERO:
            assert converted.applicationId == original.applicationId
        expected = http_pb2.HttpStartStop()
        expected.CopyFrom(original)
        expected.ClearField("applicationId")
        converted.ClearField("applicationId")
        assert converted == expected
    else:
        assert converted == original


def _event_field(v1: v1_envelope_pb2.Envelope) -> str:
    return next(f for f, t in EVENT_TYPES.items() if t == v1.eventType)


def test_to_v2_replaces_invalid_utf8_in_v1_tags() -> None:
    # proto2 lets a sender put invalid UTF-8 in the tags map; upb refuses to iterate such a map.
    env = V1(origin="o", eventType=V1.CounterEvent, tags={"ok": "fine"})
    env.counterEvent.name = "c"
    env.counterEvent.delta = 1
    entry = b"\x0a\x02k\xff\x12\x02v\xfe"  # key b"k\xff", value b"v\xfe"
    parsed = V1.FromString(env.SerializeToString() + b"\x8a\x01" + bytes([len(entry)]) + entry)
    v2 = to_v2(parsed, True)
    assert v2.tags["ok"] == "fine"
    assert v2.tags["k\ufffd"] == "v\ufffd"
