"""Issue 10, finding 1: what ingress refuses (lgr.core.envelope) and what consumers salvage
(lgr.core.salvage), field by field."""

from __future__ import annotations

import pytest
from google.protobuf.message import DecodeError

from lgr.core import envelope as E
from lgr.core import salvage
from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.metrics import Registry
from tests.poison import BAD, POISON_FIELDS, poison_tag_envelope, poisoned


def good(i: int) -> bytes:
    return E.log(f"good {i}", source_id=f"app-{i}", tags={"k": "v"}, timestamp=i).SerializeToString()


@pytest.mark.parametrize("field", sorted(POISON_FIELDS))
def test_peek_refuses_invalid_utf8_in_every_string_field_naming_it(field: str) -> None:
    data = poisoned(POISON_FIELDS[field]())
    with pytest.raises(DecodeError):  # what upb (and Go upstream) refuse ...
        envelope_pb2.Envelope.FromString(data)
    with pytest.raises(E.MalformedEnvelope) as err:  # ... ingress refuses, naming the field
        E.peek(data)
    assert f"{field} is not valid UTF-8" in str(err.value)


@pytest.mark.parametrize("field", sorted(POISON_FIELDS))
def test_peek_batch_refuses_the_whole_batch_naming_the_envelope(field: str) -> None:
    batch = E.join_batch([good(0), poisoned(POISON_FIELDS[field]()), good(2)])
    with pytest.raises(E.MalformedEnvelope) as err:
        E.peek_batch(batch)
    assert "envelope 2 of 3" in str(err.value)
    assert f"{field} is not valid UTF-8" in str(err.value)
    assert len(E.split_batch(batch)) == 3  # the framing alone is fine
    assert salvage.envelope_count(batch) == 3


def test_the_issues_poison_is_refused() -> None:
    with pytest.raises(E.MalformedEnvelope, match=r"tags\['k'\] value is not valid UTF-8"):
        E.peek_batch(E.join_batch([poison_tag_envelope()]))


def test_a_log_payload_is_bytes_and_is_not_checked() -> None:
    data = E.log(BAD, source_id="app").SerializeToString()
    assert E.peek(data) == ("app", "log")
    assert E.peek_batch(E.join_batch([data])) == [(data, "app", "log")]


@pytest.mark.parametrize("garbage", [
    b"\x4a\x04\x0a\x05ab",          # tags entry whose key runs past the entry
    b"\x2a\x02\x0a\x09",            # counter whose name runs past the counter
    b"\x32\x03\x0a\x01\x80",        # gauge metrics entry ending in a cut varint
    b"\x1a\x02\x12\x05",            # deprecated_tags entry with a cut Value
    b"\x12\x05ab",                  # source_id longer than the envelope
])
def test_nested_garbage_is_refused_as_corrupt(garbage: bytes) -> None:
    data = good(0) + garbage
    with pytest.raises(DecodeError):
        envelope_pb2.Envelope.FromString(data)
    with pytest.raises(E.MalformedEnvelope, match="invalid envelope"):
        E.peek(data)
    with pytest.raises(E.MalformedEnvelope, match="envelope 1 of 1"):
        E.peek_batch(E.join_batch([data]))


def test_peek_batch_reads_what_a_full_parse_reads() -> None:
    envs = [E.counter("c", source_id="a"), E.gauge({"m": 1.0}, source_id="b"),
            E.timer("t", 1, 2, source_id="c"), E.event("t", "b", source_id="d"),
            envelope_pb2.Envelope(source_id="e")]
    data = [env.SerializeToString() for env in envs]
    assert E.peek_batch(E.join_batch(data)) == [
        (data[0], "a", "counter"), (data[1], "b", "gauge"), (data[2], "c", "timer"),
        (data[3], "d", "event"), (data[4], "e", "")]


def test_a_batch_with_broken_framing_is_refused() -> None:
    with pytest.raises(E.MalformedEnvelope, match="malformed envelope batch"):
        E.peek_batch(b"\x0a\x10short")
    assert salvage.envelope_count(b"\x0a\x10short") == 1


# --- salvage ---------------------------------------------------------------------------------

def test_parse_batch_keeps_every_good_envelope_in_order_and_counts_the_bad() -> None:
    bads = [poisoned(make()) for make in POISON_FIELDS.values()]
    data = [good(0), bads[0], good(1), good(2), *bads[1:], good(3)]
    result = salvage.parse_batch(E.join_batch(data))
    assert [env.log.payload for env in result.batch] == [b"good 0", b"good 1", b"good 2", b"good 3"]
    assert result.malformed == len(bads)


def test_parse_batch_of_a_good_batch_is_the_full_parse() -> None:
    data = [good(i) for i in range(5)]
    result = salvage.parse_batch(E.join_batch(data))
    assert [env.SerializeToString() for env in result.batch] == data
    assert result.malformed == 0


def test_peek_batch_salvaged_keeps_the_good_bytes() -> None:
    items, malformed = salvage.peek_batch_salvaged(
        E.join_batch([good(0), poison_tag_envelope(), good(1)]))
    assert items == [(good(0), "app-0", "log"), (good(1), "app-1", "log")]
    assert malformed == 1


@pytest.mark.parametrize("data", [b"\x0a\x10short", b"\xff\xff\xff", b"\x08"])
def test_an_unsplittable_batch_salvages_nothing_and_counts_one(data: bytes) -> None:
    assert salvage.parse_batch(data) == salvage.Salvaged([], 1)
    assert salvage.peek_batch_salvaged(data) == ([], 1)


def test_malformed_counter_has_one_name_and_help_everywhere() -> None:
    registry = Registry()
    counter = salvage.malformed_counter(registry)
    counter.inc(2)
    text = registry.render_prometheus()
    assert f"# HELP malformed {salvage.MALFORMED_HELP}" in text
    assert "malformed 2" in text
