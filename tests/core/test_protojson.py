"""Tests for lgr.core.protojson and lgr.core.prototext against upstream Go output."""

from __future__ import annotations

import json

import pytest

from lgr.core import envelope, protojson, prototext
from lgr.core._proto.loggregator.v2 import envelope_pb2
from tests.conftest import VECTORS

GATEWAY = json.loads((VECTORS / "gateway_json.json").read_text())


@pytest.mark.parametrize("case", GATEWAY, ids=[c["name"] for c in GATEWAY])
def test_batch_json_matches_the_gateway_text(case):
    batch = envelope_pb2.EnvelopeBatch.FromString(bytes.fromhex(case["batch_hex"]))
    assert protojson.batch_json(batch.batch) == case["text"]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3.0, "3"), (0.1, "0.1"), (1e-6, "0.000001"), (1e-7, "1e-7"), (1.5e-10, "1.5e-10"),
        (1e21, "1e+21"), (123456789012345678901.0, "123456789012345680000"),
        (1.7976931348623157e308, "1.7976931348623157e+308"), (-0.0, "-0"),
        (float("nan"), '"NaN"'), (float("inf"), '"Infinity"'), (float("-inf"), '"-Infinity"'),
    ],
)
def test_format_double(value, text):
    assert protojson.format_double(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "0"), (1.5, "1.5"), (123456.0, "123456"), (1e6, "1e+06"), (1234567.0, "1.234567e+06"),
        (0.0001, "0.0001"), (0.00001, "1e-05"), (-2.5e-300, "-2.5e-300"),
        (float("nan"), "nan"), (float("-inf"), "-inf"),
    ],
)
def test_prototext_float_is_go_shortest_g(value, text):
    assert prototext.format_float(value) == text


def test_prototext_of_an_envelope_without_message():
    env = envelope_pb2.Envelope(timestamp=5, source_id='a"b', instance_id="")
    env.tags["z"] = "1"
    env.tags["a"] = "tab\there"
    env.deprecated_tags["n"].integer = -3
    env.deprecated_tags["d"].decimal = 0.5
    assert prototext.message_text(env) == (
        'timestamp:5 source_id:"a\\"b" deprecated_tags:{key:"d" value:{decimal:0.5}} '
        'deprecated_tags:{key:"n" value:{integer:-3}} tags:{key:"a" value:"tab\\there"} tags:{key:"z" value:"1"}'
    )


def test_prototext_quotes_like_go():
    assert prototext.quote(b"\x01\x7f\xff\xc2\x85\xe2\x9c\x93") == '"\\x01\\x7f\\xff\\u0085✓"'


def test_prototext_of_messages_and_enums():
    env = envelope.log("hi", source_id="s", timestamp=1, type="ERR")
    assert prototext.message_text(env) == 'timestamp:1 source_id:"s" log:{payload:"hi" type:ERR}'


def test_memoized_tag_maps_follow_the_values_not_the_insertion_order(monkeypatch):
    monkeypatch.setattr(protojson, "MEMO_LIMIT", 2)  # forgetting the table is exercised too
    expected = '"tags":{"a":"1","b":"2"}'
    for tags in ({"a": "1", "b": "2"}, {"b": "2", "a": "1"}, {"a": "1", "b": "2"}):
        assert expected in protojson.envelope_json(envelope.log("x", source_id="s", tags=tags))
    for i in range(5):
        text = protojson.envelope_json(envelope.log("x", source_id=f"s{i}", tags={"a": str(i)}))
        assert f'"source_id":"s{i}"' in text and f'"tags":{{"a":"{i}"}}' in text


def test_a_log_type_the_enum_does_not_name_is_its_number():
    env = envelope.log("x", source_id="s", timestamp=1)
    env.log.type = 7
    assert protojson.envelope_json(env).endswith('"log":{"payload":"eA==","type":7}}')
