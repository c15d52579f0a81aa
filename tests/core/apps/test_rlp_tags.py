"""Tag convergence as upstream's RLP does it, and Go's float formatting it relies on."""

from __future__ import annotations

import math

import pytest

from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.apps.rlp.tags import converge, converge_batch, go_sprint_float


@pytest.mark.parametrize(("value", "text"), [
    (1.5, "1.5"), (100.0, "100"), (123456.0, "123456"), (999999.5, "999999.5"),
    (1234567.0, "1.234567e+06"), (1e6, "1e+06"), (1e21, "1e+21"), (1e100, "1e+100"),
    (0.0001, "0.0001"), (0.00001, "1e-05"), (-2.5e-7, "-2.5e-07"), (0.1, "0.1"),
    (1 / 3, "0.3333333333333333"), (0.0, "0"), (-0.0, "-0"), (5e-324, "5e-324"),
    (math.inf, "+Inf"), (-math.inf, "-Inf"), (math.nan, "NaN"), (-12.0, "-12"),
])
def test_go_sprint_float(value, text):
    assert go_sprint_float(value) == text


def tagged() -> envelope_pb2.Envelope:
    env = envelope_pb2.Envelope(source_id="a", tags={"shared": "from-tags", "t": "1"})
    env.deprecated_tags["shared"].text = "from-deprecated"
    env.deprecated_tags["n"].integer = -3
    env.deprecated_tags["d"].decimal = 2e6
    env.log.payload = b"x"
    return env


def test_preferred_moves_deprecated_into_tags_and_they_win():
    env = tagged()
    converge(env, use_preferred_tags=True)
    assert dict(env.tags) == {"shared": "from-deprecated", "t": "1", "n": "-3", "d": "2e+06"}
    assert not env.deprecated_tags


def test_not_preferred_moves_tags_into_deprecated_text_and_they_win():
    env = tagged()
    converge(env, use_preferred_tags=False)
    assert not env.tags
    assert {k: v.WhichOneof("data") for k, v in env.deprecated_tags.items()} == {
        "shared": "text", "t": "text", "n": "integer", "d": "decimal"}
    assert env.deprecated_tags["shared"].text == "from-tags"


@pytest.mark.parametrize("preferred", [True, False])
def test_a_batch_needing_no_change_is_passed_through_as_the_same_bytes(preferred):
    env = envelope_pb2.Envelope(source_id="a")
    if preferred:
        env.tags["k"] = "v"
    else:
        env.deprecated_tags["k"].text = "v"
    data = envelope_pb2.EnvelopeBatch(batch=[env, env]).SerializeToString()
    assert converge_batch(data, preferred) is data


def test_a_batch_needing_a_change_is_rewritten_envelope_by_envelope():
    plain = envelope_pb2.Envelope(source_id="plain")
    data = envelope_pb2.EnvelopeBatch(batch=[plain, tagged()]).SerializeToString()
    out = envelope_pb2.EnvelopeBatch.FromString(converge_batch(data, True))
    assert out.batch[0] == plain
    assert out.batch[1].tags["n"] == "-3" and not out.batch[1].deprecated_tags


def full_parse(data: bytes, preferred: bool) -> envelope_pb2.EnvelopeBatch:
    batch = envelope_pb2.EnvelopeBatch.FromString(data)
    for env in batch.batch:
        converge(env, preferred)
    return batch


def test_the_wire_rewrite_gives_what_a_full_parse_gives():
    envs = [tagged(), envelope_pb2.Envelope(source_id="none"), envelope_pb2.Envelope(
        source_id="edge", tags={"": "empty key", "empty": "", "long": "v" * 300, "ünï": "cödé"})]
    envs[2].deprecated_tags["long"].text = "loses to the tag"
    envs[2].timer.name = "t"
    data = envelope_pb2.EnvelopeBatch(batch=envs).SerializeToString()
    got = envelope_pb2.EnvelopeBatch.FromString(converge_batch(data, False))
    assert got == full_parse(data, False)
    assert got.batch[2].deprecated_tags["long"].text == "v" * 300


def test_an_entry_the_wire_rewrite_does_not_expect_falls_back_to_a_full_parse():
    # A tags entry with the value before the key: valid protobuf, not what Go or upb write.
    entry = b"\x12\x01v\x0a\x01k"
    env = b"\x12\x01a" + b"\x4a" + bytes([len(entry)]) + entry
    data = b"\x0a" + bytes([len(env)]) + env
    got = envelope_pb2.EnvelopeBatch.FromString(converge_batch(data, False))
    assert got.batch[0].deprecated_tags["k"].text == "v" and not got.batch[0].tags
