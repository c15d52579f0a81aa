"""/v2/read query parsing and selector building, by upstream's rules; SSE frames vs the vectors."""

from __future__ import annotations

import json

import pytest
from google.protobuf import json_format

from lgr.core._proto.loggregator.v2 import egress_pb2, envelope_pb2
from lgr.core.apps.gateway import errors, sse
from lgr.core.apps.gateway.query import build_request, build_selectors, parse_query
from tests.conftest import VECTORS

GATEWAY = json.loads((VECTORS / "gateway_json.json").read_text())


@pytest.mark.parametrize("case", GATEWAY, ids=[c["name"] for c in GATEWAY])
def test_batch_frames_are_the_upstream_sse_frames(case):
    batch = envelope_pb2.EnvelopeBatch.FromString(bytes.fromhex(case["batch_hex"]))
    frame = sse.batch_frame(batch.batch)
    assert frame.decode() == case["sse_frame"]
    spaced = "data: " + case["text_spaced_variant"] + "\n\n"
    assert frame.decode() in (case["sse_frame"], spaced)


def test_heartbeat_and_closing_frames():
    assert sse.heartbeat_frame(1700000000.9) == b"event: heartbeat\ndata: 1700000000\n\n"
    assert sse.CLOSING == b"event: closing\ndata: closing due to stream timeout\n\n"


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("log", {"log": [""]}),
        ("log&log=", {"log": ["", ""]}),
        ("source_id=a&source_id=b+c&x=%2F", {"source_id": ["a", "b c"], "x": ["/"]}),
        ("a=1;b=2&c=3", {"c": ["3"]}),          # Go drops pairs holding ';'
        ("a=%zz&b=%2", {}),                       # and pairs with bad escapes
        ("", {}), ("&&", {}),
        ("gauge.name=cpu,memory", {"gauge.name": ["cpu,memory"]}),
    ],
)
def test_parse_query_is_gos(raw, parsed):
    assert parse_query(raw) == parsed


def _sel(text: str) -> list[dict]:
    return [json_format.MessageToDict(s) for s in build_selectors(parse_query(text))]


def test_selectors_are_the_product_of_source_ids_and_types_in_upstream_order():
    assert _sel("event&timer&gauge&counter&log&source_id=a&source_id=b") == [
        {"sourceId": sid, kind: {}} for sid in ("a", "b")
        for kind in ("log", "counter", "gauge", "timer", "event")
    ]


def test_no_source_id_is_the_firehose():
    assert _sel("log") == [{"log": {}}]


def test_counter_and_gauge_names():
    assert _sel("counter.name=a&counter.name=b") == [
        {"counter": {"name": "a"}}, {"counter": {"name": "b"}}]
    assert _sel("counter&counter.name=a") == [{"counter": {"name": "a"}}]
    assert _sel("gauge.name=cpu,memory&gauge.name=disk") == [
        {"gauge": {"names": ["cpu", "memory"]}}, {"gauge": {"names": ["disk"]}}]
    # Quirks kept from upstream: a bare name key is the value "".
    assert _sel("counter.name") == [{"counter": {}}]
    assert _sel("gauge.name") == [{"gauge": {"names": [""]}}]


def test_repeated_source_ids_are_kept():
    assert len(_sel("source_id=a&source_id=a&log")) == 2


@pytest.mark.parametrize(
    ("raw", "error"),
    [("", errors.EMPTY_QUERY), ("a;b", errors.EMPTY_QUERY),
     ("source_id=x&shard_id=y", errors.MISSING_TYPE), ("logs", errors.MISSING_TYPE)],
)
def test_bad_queries(raw, error):
    with pytest.raises(errors.JsonError) as info:
        build_selectors(parse_query(raw))
    assert info.value == error and info.value.status == 400


def test_valueless_names_are_refused_when_given_directly():
    with pytest.raises(errors.JsonError) as info:
        build_selectors({"counter.name": []})
    assert info.value == errors.MISSING_COUNTER_NAME
    with pytest.raises(errors.JsonError) as info:
        build_selectors({"gauge.name": []})
    assert info.value.body == \
        b'{"message":"gauge.name is invalid without value","error":"missing_gauge_name"}\n\n'


def test_request_takes_the_first_shard_id_and_deterministic_name():
    req = build_request(parse_query("log&shard_id=s1&shard_id=s2&deterministic_name=d"))
    assert req == egress_pb2.EgressBatchRequest(
        shard_id="s1", deterministic_name="d", use_preferred_tags=True,
        selectors=[egress_pb2.Selector(log=egress_pb2.LogSelector())])


@pytest.mark.parametrize("raw", ["log&source_id=\udcff", "log&source_id=a\udcc3\udc28"])
def test_request_target_bytes_that_are_not_utf8_become_replacement_characters(raw):
    """Found by tests/fuzz/test_fuzz_sse_query.py: lone surrogates (how a request target's
    non-UTF-8 bytes arrive) made protobuf raise UnicodeEncodeError building the selector."""
    request = build_request(parse_query(raw))
    assert "\ufffd" in request.selectors[0].source_id
    request.SerializeToString()
