"""Fuzz the router's fast path (lgr.core.envelope peek / peek_batch / split_batch): for any bytes it
either returns what a full upb parse reads, or raises MalformedEnvelope exactly when that parse
refuses them — never any other exception, never a different answer."""

from __future__ import annotations

from google.protobuf.message import DecodeError
from hypothesis import event, given

from lgr.core import envelope as E
from lgr.core._proto.loggregator.v2 import envelope_pb2
from tests.fuzz.envelope_seeds import ENVELOPES
from tests.fuzz.mutations import batches_of, hostile
from tests.fuzz.support import fuzz
from tests.poison import poison_tag_envelope

BATCHES = batches_of(ENVELOPES, E.join_batch)


def full_parse(cls, data: bytes):  # noqa: ANN001
    try:
        return cls.FromString(data)
    except DecodeError:
        return None


@fuzz
@given(hostile(ENVELOPES))
def test_peek_agrees_with_a_full_parse(data: bytes) -> None:
    parsed = full_parse(envelope_pb2.Envelope, data)
    try:
        got = E.peek(data)
    except E.MalformedEnvelope as exc:
        assert parsed is None, f"peek refused what upb accepts: {exc}"
        assert str(exc).startswith("invalid envelope: ")
        event("refused")
        return
    assert parsed is not None, "peek accepted what upb refuses"
    assert got == (parsed.source_id, parsed.WhichOneof("message") or "")
    event("accepted")


@fuzz
@given(hostile(BATCHES))
def test_peek_batch_agrees_with_a_full_parse(data: bytes) -> None:
    parsed = full_parse(envelope_pb2.EnvelopeBatch, data)
    try:
        items = E.peek_batch(data)
    except E.MalformedEnvelope:
        assert parsed is None, "peek_batch refused what upb accepts"
        event("refused")
        return
    assert parsed is not None, "peek_batch accepted what upb refuses"
    assert [(sid, kind) for _, sid, kind in items] == \
        [(env.source_id, env.WhichOneof("message") or "") for env in parsed.batch]
    # The bytes handed on are the envelopes' own, and each parses to the same envelope.
    assert [envelope_pb2.Envelope.FromString(b).SerializeToString(deterministic=True)
            for b, _, _ in items] == [env.SerializeToString(deterministic=True) for env in parsed.batch]
    assert E.join_batch([b for b, _, _ in items]) == E.join_batch(E.split_batch(data))
    event(f"accepted {len(items)}")


@fuzz
@given(hostile(BATCHES))
def test_split_batch_raises_only_malformed_envelope(data: bytes) -> None:
    try:
        pieces = E.split_batch(data)
    except E.MalformedEnvelope:
        return
    assert E.split_batch(E.join_batch(pieces)) == pieces


def test_regression_issue10_finding1_the_poison_does_not_pass_the_fast_path() -> None:
    """peek_batch checked only the outer structure and source_id, so the router forwarded a
    tag value b"\\xff\\xfe" that killed the log cache's nozzle."""
    good = E.log("ok", source_id="app").SerializeToString()
    data = E.join_batch([good, poison_tag_envelope(), good])
    assert full_parse(envelope_pb2.EnvelopeBatch, data) is None
    try:
        E.peek_batch(data)
    except E.MalformedEnvelope as exc:
        assert "envelope 2 of 3 (source_id 'poison'): tags['k'] value is not valid UTF-8" in str(exc)
    else:
        raise AssertionError("the poison passed peek_batch")
