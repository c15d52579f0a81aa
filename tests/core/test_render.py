"""Tests for lgr.core.render, driven by tests/vectors/tail_format.json (upstream cf tail output)."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from google.protobuf import json_format

from lgr.core import envelope, render
from lgr.core._proto.loggregator.v2 import envelope_pb2
from tests.conftest import VECTORS

CASES = json.loads((VECTORS / "tail_format.json").read_text())
UTC = dt.timezone.utc


def parse(raw: dict) -> envelope_pb2.Envelope:
    return json_format.ParseDict(raw, envelope_pb2.Envelope())


def cf_tail(case: dict) -> bytes:
    """What `cf tail <source_arg> <flags>` prints for the case's envelopes, via lgr.core.render."""
    envs = [parse(raw) for raw in case["envelopes"]]
    new_line = None
    as_json = False
    for flag in case["flags"]:
        if flag == "--json":
            as_json = True
        elif flag.startswith("--new-line"):
            _, _, value = flag.partition("=")
            new_line = render.parse_new_line(value) if value else render.DEFAULT_NEW_LINE
        else:
            raise AssertionError(f"vector uses a flag this test does not know: {flag}")
    if as_json:
        return (render.json_batch(envs) + "\n").encode("utf-8")
    return b"".join(
        render.pretty(e, source=case["source_arg"], new_line=new_line, tz=UTC).to_bytes() for e in envs
    )


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_output_matches_cf_tail(case):
    expected = base64.b64decode(case["stdout_b64"])
    assert expected.decode("utf-8", errors="surrogateescape") == case["stdout"]
    got = cf_tail(case)
    accepted = {expected}
    if case["stdout_spaced_variant"] is not None:
        accepted.add(case["stdout_spaced_variant"].encode("utf-8"))
    assert got in accepted, f"\n got: {got!r}\nwant: {expected!r}"


def test_every_vector_flag_and_kind_is_covered():
    kinds = {envelope.kind_of(parse(raw)) for case in CASES for raw in case["envelopes"]}
    assert kinds == {"log", "counter", "gauge", "timer", "event", ""}


def test_source_none_shows_the_envelope_source_id():
    env = envelope.counter("requests", total=7, source_id="app-guid", instance_id="2", timestamp=0)
    line = render.pretty(env, tz=UTC)
    assert line.text() == "   1970-01-01T00:00:00.00+0000 [app-guid/2] COUNTER requests:7"
    assert (line.label, line.body) == ("COUNTER", b"requests:7")


def test_log_source_type_falls_back_to_unknown_and_keeps_raw_bytes():
    env = envelope.log(b"bad \xff utf8", source_id="s", timestamp=0, type="ERR")
    line = render.pretty(env, tz=UTC)
    assert line.to_bytes() == b"   1970-01-01T00:00:00.00+0000 [unknown] ERR bad \xff utf8\n"
    assert line.text().endswith("bad \ufffd utf8")


def test_negative_timestamp_and_time_zone():
    env = envelope.event("t", "b", source_id="s", timestamp=-1)  # 1 ns before the epoch
    assert render.pretty(env, tz=UTC).header == "   1969-12-31T23:59:59.99+0000 [s] "
    tz = dt.timezone(dt.timedelta(hours=-7))
    assert render.format_timestamp(0, tz) == "1969-12-31T17:00:00.00-0700"


def test_go_float_formats():
    assert [render.go_float(v) for v in (float("nan"), float("inf"), float("-inf"), 1.5)] == [
        "NaN", "+Inf", "-Inf", "1.500000",
    ]


@pytest.mark.parametrize("value", ["", "ab", "\\u12", "\\q", "\\ud800", "\\U00110000"])
def test_parse_new_line_rejects_anything_but_one_character(value):
    with pytest.raises(ValueError):
        render.parse_new_line(value)


def test_json_entry_of_non_log_is_protojson():
    env = envelope.gauge({"cpu": (0.5, "percentage")}, source_id="s", timestamp=1)
    assert render.json_entry(env) == (
        '{"timestamp":"1","source_id":"s","instance_id":"","deprecated_tags":{},"tags":{},'
        '"gauge":{"metrics":{"cpu":{"unit":"percentage","value":0.5}}}}'
    )


def test_log_json_replaces_each_invalid_byte_like_go():
    env = envelope.log(b"\xe2\x80|\xed\xa0\x80", source_id="s", timestamp=1)
    payload = json.loads(render.log_entry_json(env))["log"]["payload"]
    assert payload == "\ufffd\ufffd|\ufffd\ufffd\ufffd"
