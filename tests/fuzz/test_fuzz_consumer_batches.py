"""Fuzz the consumers' batch parsing (lgr.core.salvage, and the rlp's tag rewrite it backs up):
for any bytes it never raises, and returns exactly the envelopes of the batch that parse, in
order, counting the others."""

from __future__ import annotations

from google.protobuf.message import DecodeError
from hypothesis import given

from lgr.core import envelope as E
from lgr.core import salvage
from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.apps.rlp.tags import converge_batch
from tests.fuzz.envelope_seeds import ENVELOPES
from tests.fuzz.mutations import batches_of, hostile
from tests.fuzz.support import fuzz

BATCHES = hostile(batches_of(ENVELOPES, E.join_batch))


def wire(envs) -> list[bytes]:  # noqa: ANN001
    """Messages as their deterministic bytes, to compare lists of them."""
    return [env.SerializeToString(deterministic=True) for env in envs]


def parses(data: bytes) -> envelope_pb2.Envelope | None:
    try:
        return envelope_pb2.Envelope.FromString(data)
    except DecodeError:
        return None


@fuzz
@given(BATCHES)
def test_parse_batch_returns_exactly_the_envelopes_that_parse(data: bytes) -> None:
    result = salvage.parse_batch(data)
    try:
        pieces = E.split_batch(data)
    except E.MalformedEnvelope:
        assert result == salvage.Salvaged([], 1)
        return
    want = [env for env in map(parses, pieces) if env is not None]
    assert wire(result.batch) == wire(want)
    assert result.malformed == len(pieces) - len(want)


@fuzz
@given(BATCHES)
def test_peek_batch_salvaged_agrees_with_parse_batch(data: bytes) -> None:
    items, malformed = salvage.peek_batch_salvaged(data)
    result = salvage.parse_batch(data)
    assert malformed == result.malformed
    assert wire(envelope_pb2.Envelope.FromString(b) for b, _, _ in items) == wire(result.batch)
    assert [(sid, kind) for _, sid, kind in items] == \
        [(env.source_id, env.WhichOneof("message") or "") for env in result.batch]


@fuzz
@given(BATCHES)
def test_the_rlps_tag_rewrite_raises_only_decode_errors(data: bytes) -> None:
    for preferred in (True, False):
        try:
            converge_batch(data, preferred)
        except (DecodeError, E.MalformedEnvelope):
            pass
