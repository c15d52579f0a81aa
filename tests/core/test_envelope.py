"""Tests for lgr.core.envelope: builders, kind_of, and the wire-level split/join/peek helpers."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lgr.core import envelope as E
from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.errors import LgrError

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- builders -------------------------------------------------------------------------------

def test_log_builder_sets_every_field() -> None:
    env = E.log("héllo", source_id="app", instance_id="3", type="ERR", tags={"a": "b"},
                timestamp=42)
    assert env.timestamp == 42
    assert (env.source_id, env.instance_id) == ("app", "3")
    assert dict(env.tags) == {"a": "b"}
    assert env.log.payload == "héllo".encode()
    assert env.log.type == envelope_pb2.Log.ERR
    assert E.kind_of(env) == "log"


def test_log_builder_keeps_bytes_and_defaults_to_out() -> None:
    env = E.log(b"\xff\x00", timestamp=1)
    assert env.log.payload == b"\xff\x00"
    assert env.log.type == envelope_pb2.Log.OUT
    assert E.kind_of(env) == "log"


def test_log_builder_rejects_unknown_type() -> None:
    with pytest.raises(ValueError, match="OUT"):
        E.log("x", type="WARN")


def test_timestamp_defaults_to_now() -> None:
    before = time.time_ns()
    env = E.event("t", "b")
    assert before <= env.timestamp <= time.time_ns()


def test_counter_builder() -> None:
    env = E.counter("requests", delta=5, total=2**64 - 1, source_id="s", timestamp=1)
    assert E.kind_of(env) == "counter"
    assert (env.counter.name, env.counter.delta, env.counter.total) == ("requests", 5, 2**64 - 1)


def test_gauge_builder_accepts_values_with_or_without_units() -> None:
    env = E.gauge({"cpu": (0.5, "percentage"), "n": 3.0}, timestamp=1)
    assert E.kind_of(env) == "gauge"
    assert env.gauge.metrics["cpu"].value == 0.5
    assert env.gauge.metrics["cpu"].unit == "percentage"
    assert env.gauge.metrics["n"].value == 3.0
    assert env.gauge.metrics["n"].unit == ""


def test_empty_gauge_is_still_a_gauge() -> None:
    env = E.gauge({}, timestamp=1)
    assert E.kind_of(env) == "gauge"
    assert E.peek(env.SerializeToString()) == ("", "gauge")


def test_timer_and_event_builders() -> None:
    timer = E.timer("http", 10, 20, instance_id="i", timestamp=1)
    assert E.kind_of(timer) == "timer"
    assert (timer.timer.name, timer.timer.start, timer.timer.stop) == ("http", 10, 20)
    ev = E.event("title", "body", timestamp=1)
    assert E.kind_of(ev) == "event"
    assert (ev.event.title, ev.event.body) == ("title", "body")


def test_kind_of_no_message() -> None:
    assert E.kind_of(envelope_pb2.Envelope()) == ""


def test_to_json_uses_the_gateways_key_names() -> None:
    doc = E.to_json(E.counter("c", delta=1, source_id="s", timestamp=7))
    assert doc == {
        "timestamp": "7",
        "source_id": "s",
        "instance_id": "",
        "deprecated_tags": {},
        "tags": {},
        "counter": {"name": "c", "delta": "1", "total": "0"},
    }


# --- serialized forms used below -------------------------------------------------------------

def go_order(env: envelope_pb2.Envelope) -> bytes:
    """Serialize as Go does: the oneof member after every other field."""
    head = envelope_pb2.Envelope()
    head.CopyFrom(env)
    kind = head.WhichOneof("message")
    head.ClearField("message")
    tail = envelope_pb2.Envelope()
    if kind:
        getattr(tail, kind).CopyFrom(getattr(env, kind))
    return head.SerializeToString() + tail.SerializeToString()


def field_pieces(env: envelope_pb2.Envelope) -> list[bytes]:
    """One serialized piece per field (per map entry), so they can be concatenated in any order."""
    pieces = []
    if env.timestamp:
        pieces.append(envelope_pb2.Envelope(timestamp=env.timestamp).SerializeToString())
    if env.source_id:
        pieces.append(envelope_pb2.Envelope(source_id=env.source_id).SerializeToString())
    if env.instance_id:
        pieces.append(envelope_pb2.Envelope(instance_id=env.instance_id).SerializeToString())
    for key, value in env.tags.items():
        pieces.append(envelope_pb2.Envelope(tags={key: value}).SerializeToString())
    for key, value in env.deprecated_tags.items():
        piece = envelope_pb2.Envelope()
        piece.deprecated_tags[key].CopyFrom(value)
        pieces.append(piece.SerializeToString())
    kind = env.WhichOneof("message")
    if kind:
        piece = envelope_pb2.Envelope()
        getattr(piece, kind).CopyFrom(getattr(env, kind))
        pieces.append(piece.SerializeToString())
    return pieces


# --- strategies -----------------------------------------------------------------------------

text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=12)
int64 = st.integers(-(2**63), 2**63 - 1)
uint64 = st.integers(0, 2**64 - 1)
tag_maps = st.dictionaries(text, text, max_size=4)
values = st.one_of(
    text.map(lambda t: envelope_pb2.Value(text=t)),
    int64.map(lambda i: envelope_pb2.Value(integer=i)),
    st.floats(allow_nan=False).map(lambda d: envelope_pb2.Value(decimal=d)),
)


def _with_message(env: envelope_pb2.Envelope, kind: str | None, draw: st.DrawFn) -> None:
    if kind == "log":
        env.log.payload = draw(st.binary(max_size=40))
        env.log.type = draw(st.sampled_from([0, 1]))
    elif kind == "counter":
        env.counter.name = draw(text)
        env.counter.delta = draw(uint64)
        env.counter.total = draw(uint64)
    elif kind == "gauge":
        env.gauge.SetInParent()
        for name, (value, unit) in draw(
            st.dictionaries(text, st.tuples(st.floats(allow_nan=False), text), max_size=3)
        ).items():
            env.gauge.metrics[name].value = value
            env.gauge.metrics[name].unit = unit
    elif kind == "timer":
        env.timer.name = draw(text)
        env.timer.start = draw(int64)
        env.timer.stop = draw(int64)
    elif kind == "event":
        env.event.title = draw(text)
        env.event.body = draw(text)


@st.composite
def envelopes(draw: st.DrawFn) -> envelope_pb2.Envelope:
    env = envelope_pb2.Envelope(
        timestamp=draw(int64),
        source_id=draw(text),
        instance_id=draw(text),
        tags=draw(tag_maps),
    )
    for key, value in draw(st.dictionaries(text, values, max_size=3)).items():
        env.deprecated_tags[key].CopyFrom(value)
    _with_message(env, draw(st.sampled_from([None, *E.KINDS])), draw)
    return env


def expected_peek(data: bytes) -> tuple[str, str]:
    env = envelope_pb2.Envelope.FromString(data)
    return env.source_id, env.WhichOneof("message") or ""


# --- peek -----------------------------------------------------------------------------------

def _vector_v2_hexes() -> list[tuple[str, str]]:
    out = []
    for case in json.loads((VECTORS / "v2_to_v1.json").read_text()):
        out.append((case["name"], case["v2_envelope_hex"]))
    for case in json.loads((VECTORS / "v1_to_v2.json").read_text()):
        out.append((case["name"] + "/preferred", case["v2_preferred_hex"]))
        out.append((case["name"] + "/deprecated", case["v2_deprecated_hex"]))
    return out


VECTOR_V2_HEXES = _vector_v2_hexes()


@pytest.mark.parametrize(("name", "hex_"), VECTOR_V2_HEXES, ids=[n for n, _ in VECTOR_V2_HEXES])
def test_peek_reads_go_serialized_vectors(name: str, hex_: str) -> None:
    data = bytes.fromhex(hex_)
    assert E.peek(data) == expected_peek(data)


@FAST
@given(envelopes())
def test_peek_matches_full_parse_in_python_and_go_field_order(env: envelope_pb2.Envelope) -> None:
    expected = (env.source_id, env.WhichOneof("message") or "")
    assert E.peek(env.SerializeToString()) == expected
    assert E.peek(go_order(env)) == expected


@FAST
@given(envelopes(), st.randoms(use_true_random=False))
def test_peek_matches_full_parse_in_any_field_order(env: envelope_pb2.Envelope, rnd) -> None:
    pieces = field_pieces(env)
    rnd.shuffle(pieces)
    data = b"".join(pieces)
    assert E.peek(data) == expected_peek(data)


def test_peek_last_source_id_and_last_oneof_member_win() -> None:
    data = (
        envelope_pb2.Envelope(source_id="first").SerializeToString()
        + E.counter("c", timestamp=1).SerializeToString()
        + envelope_pb2.Envelope(source_id="second").SerializeToString()
        + E.event("t", "b", timestamp=1).SerializeToString()
    )
    assert E.peek(data) == ("second", "event") == expected_peek(data)


# Fields as (field number, wire type, raw value bytes); wire types 3/4 wrap nested fields.
def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _key(number: int, wire_type: int) -> bytes:
    return _varint((number << 3) | wire_type)


field_numbers = st.sampled_from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 15, 16, 2047, 2**29 - 1])


def raw_fields(depth: int = 2) -> st.SearchStrategy[bytes]:
    varint = st.builds(lambda n, v: _key(n, 0) + _varint(v), field_numbers, uint64)
    eight, four = st.binary(min_size=8, max_size=8), st.binary(min_size=4, max_size=4)
    fixed64 = st.builds(lambda n, b: _key(n, 1) + b, field_numbers, eight)
    fixed32 = st.builds(lambda n, b: _key(n, 5) + b, field_numbers, four)
    delimited = st.builds(
        lambda n, b: _key(n, 2) + _varint(len(b)) + b,
        field_numbers,
        st.one_of(st.binary(max_size=20), text.map(str.encode)),
    )
    options = [varint, fixed64, fixed32, delimited]
    if depth:
        options.append(st.builds(
            lambda n, inner: _key(n, 3) + b"".join(inner) + _key(n, 4),
            st.sampled_from([11, 12, 99]),
            st.lists(raw_fields(depth - 1), max_size=3),
        ))
    return st.one_of(options)


@FAST
@given(st.lists(raw_fields(), max_size=8), st.integers(0, 3))
def test_peek_agrees_with_upb_on_arbitrary_wire_data(fields: list[bytes], cut: int) -> None:
    data = b"".join(fields)
    # Sometimes truncate, to reach the error paths too.
    if cut and data:
        data = data[: len(data) - cut]
    try:
        expected = expected_peek(data)
    except DecodeError:
        expected = None
    try:
        got = E.peek(data)
    except E.MalformedEnvelope:
        # peek checks less than a full parse, never more.
        assert expected is None, f"peek rejected bytes upb accepts: {data.hex()}"
        return
    if expected is not None:
        assert got == expected


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("truncated varint", b"\x08\x80"),
        ("truncated tag", b"\x80"),
        ("length past end", b"\x12\x05abc"),
        ("wire type 6", bytes([(1 << 3) | 6])),
        ("wire type 7", bytes([(1 << 3) | 7])),
        ("field number 0", b"\x02\x00"),
        ("stray end group", bytes([(5 << 3) | 4])),
        ("unterminated group", bytes([(11 << 3) | 3]) + b"\x08\x01"),
        ("mismatched end group", bytes([(11 << 3) | 3, (12 << 3) | 4])),
        ("source_id not utf-8", b"\x12\x02\xff\xfe"),
        ("fixed64 truncated", bytes([(1 << 3) | 1]) + b"\x00" * 7),
        ("varint over 10 bytes", b"\x08" + b"\xff" * 10 + b"\x01"),
    ],
)
def test_peek_rejects_malformed_bytes(name: str, data: bytes) -> None:
    with pytest.raises(E.MalformedEnvelope):
        E.peek(data)
    with pytest.raises(DecodeError):
        envelope_pb2.Envelope.FromString(data)


def test_malformed_envelope_is_a_value_error_and_an_lgr_error() -> None:
    with pytest.raises(ValueError) as info:
        E.peek(b"\x12\x05abc")
    assert isinstance(info.value, LgrError)


def test_peek_empty_bytes_is_an_empty_envelope() -> None:
    assert E.peek(b"") == ("", "")


# --- split / join ---------------------------------------------------------------------------

@FAST
@given(st.lists(envelopes(), max_size=6))
def test_join_equals_protobuf_batch_serialization(envs: list[envelope_pb2.Envelope]) -> None:
    serialized = [e.SerializeToString(deterministic=True) for e in envs]
    joined = E.join_batch(serialized)
    assert joined == envelope_pb2.EnvelopeBatch(batch=envs).SerializeToString(deterministic=True)
    assert list(envelope_pb2.EnvelopeBatch.FromString(joined).batch) == envs


@FAST
@given(st.lists(envelopes(), max_size=6))
def test_split_inverts_join_and_matches_full_parse(envs: list[envelope_pb2.Envelope]) -> None:
    serialized = [go_order(e) for e in envs]
    batch = E.join_batch(serialized)
    assert E.split_batch(batch) == serialized
    assert [envelope_pb2.Envelope.FromString(b) for b in E.split_batch(batch)] == envs
    assert E.peek_batch(batch) == [
        (b, e.source_id, e.WhichOneof("message") or "") for b, e in zip(serialized, envs)
    ]


def test_join_handles_envelopes_of_any_length() -> None:
    envs = [b"", b"\x12\x01s", E.log(b"x" * 20000, timestamp=1).SerializeToString()]
    joined = E.join_batch(envs)
    assert E.split_batch(joined) == envs
    assert E.join_batch([]) == b""
    assert E.split_batch(b"") == []


def test_split_skips_unknown_batch_fields() -> None:
    env = E.event("t", "b", timestamp=1).SerializeToString()
    batch = b"\x10\x07" + E.join_batch([env]) + b"\x1a\x01z"
    assert E.split_batch(batch) == [env]
    assert len(envelope_pb2.EnvelopeBatch.FromString(batch).batch) == 1


@pytest.mark.parametrize(
    "data",
    [b"\x0a\x05abc", b"\x0a", b"\x0a\x80", bytes([(2 << 3) | 7])],
    ids=["length past end", "missing length", "truncated length", "bad wire type"],
)
def test_split_and_peek_batch_reject_malformed_batches(data: bytes) -> None:
    with pytest.raises(E.MalformedEnvelope):
        E.split_batch(data)
    with pytest.raises(E.MalformedEnvelope):
        E.peek_batch(data)


def test_peek_batch_checks_each_envelope() -> None:
    good = E.log("x", source_id="s", timestamp=1).SerializeToString()
    batch = E.join_batch([good, b"\x12\x02\xff\xfe"])
    assert len(E.split_batch(batch)) == 2  # split does not look inside envelopes
    with pytest.raises(E.MalformedEnvelope):
        E.peek_batch(batch)
