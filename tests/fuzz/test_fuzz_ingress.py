"""Fuzz the agent's v2 gRPC ingress decoding: a message the full parse accepts goes through the
pass-through probe and the tagging without raising, and every envelope forwarded parses again; a
message it refuses is refused by the router's fast path too (one rule at both hops)."""

from __future__ import annotations

from google.protobuf.message import DecodeError
from hypothesis import event, given

from lgr.core import envelope as E
from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.apps.agent.passthrough import PassThrough
from lgr.core.apps.agent.tagging import Tagger, serialize_all
from lgr.core.metrics import Registry
from tests.fuzz.envelope_seeds import ENVELOPES
from tests.fuzz.mutations import batches_of, hostile
from tests.fuzz.support import fuzz

BATCHES = hostile(batches_of(ENVELOPES, E.join_batch))
PASS = PassThrough({"az": "z1"})
PASS_NO_LOGS = PassThrough({}, logs_disabled=True)
TAGGER = Tagger({"az": "z1"}, Registry().counter("origin_mappings", "fuzz"))


@fuzz
@given(BATCHES)
def test_what_the_agent_accepts_it_forwards_as_valid_envelopes(data: bytes) -> None:
    try:
        batch = envelope_pb2.EnvelopeBatch.FromString(data)
    except DecodeError:
        try:
            E.peek_batch(data)
        except E.MalformedEnvelope:
            event("refused at both hops")
            return
        raise AssertionError("the router's fast path accepts what the agent refuses") from None
    for probe in (PASS, PASS_NO_LOGS):
        forwarded = probe.envelopes(data)
        if forwarded is None:
            forwarded = serialize_all(TAGGER, list(batch.batch))
            event("full tagging")
        else:
            event("passed through")
        for env in forwarded:
            envelope_pb2.Envelope.FromString(env)
        E.peek_batch(E.join_batch(forwarded))  # the router takes what the agent sends
