"""Agent pass-through: a batch forwarded as bytes reads exactly as the tagging rules would make it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from lgr.core import envelope as E
from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.apps.agent.passthrough import PassThrough
from lgr.core.apps.agent.tagging import Tagger, serialize_all
from lgr.core.metrics import Registry

text = st.text(max_size=6)
tag_maps = st.dictionaries(st.sampled_from(["a", "job", "origin", "zone", "é"]), text, max_size=3)


@st.composite
def envelopes(draw) -> envelope_pb2.Envelope:
    source_id = draw(st.sampled_from(["", "app", "app-2", "é\"x"]))
    tags = draw(tag_maps)
    kind = draw(st.sampled_from(["log", "log", "counter", "empty_counter", "gauge", "timer",
                                 "event", ""]))
    if kind == "log":
        env = E.log(draw(st.binary(max_size=8)), source_id=source_id, tags=tags)
    elif kind == "counter":
        env = E.counter("c", delta=draw(st.integers(0, 5)), source_id=source_id, tags=tags)
    elif kind == "empty_counter":
        env = envelope_pb2.Envelope(source_id=source_id, tags=tags)
        env.counter.SetInParent()
    elif kind == "gauge":
        env = E.gauge({"m": 1.5}, source_id=source_id, tags=tags)
    elif kind == "timer":
        env = E.timer("t", 1, 2, source_id=source_id, tags=tags)
    elif kind == "event":
        env = E.event("title", "body", source_id=source_id, tags=tags)
    else:
        env = envelope_pb2.Envelope(source_id=source_id, tags=tags)
    if draw(st.integers(0, 3)) == 0:
        for key, value in draw(st.dictionaries(st.sampled_from(["a", "origin", "d"]), text,
                                               max_size=2)).items():
            env.deprecated_tags[key].text = value
    return env


def tagger(defaults, logs_disabled) -> Tagger:
    return Tagger(defaults, Registry().counter("origin_mappings", "help"), logs_disabled=logs_disabled)


@settings(max_examples=300, deadline=None)
@given(envs=st.lists(envelopes(), max_size=6), defaults=tag_maps, logs_disabled=st.booleans())
def test_forwarded_bytes_parse_as_the_rules_would_make_them(envs, defaults, logs_disabled):
    batch = E.join_batch(e.SerializeToString() for e in envs)
    forwarded = PassThrough(defaults, logs_disabled).envelopes(batch)
    if forwarded is None:
        return  # the full rules apply
    expected = serialize_all(tagger(defaults, logs_disabled),
                             [envelope_pb2.Envelope.FromString(e.SerializeToString()) for e in envs])
    assert [envelope_pb2.Envelope.FromString(b) for b in forwarded] == [
        envelope_pb2.Envelope.FromString(b) for b in expected]


def test_common_batches_pass_and_those_needing_a_rule_do_not():
    p = PassThrough({})
    batch = lambda *envs: E.join_batch(e.SerializeToString() for e in envs)  # noqa: E731
    log = E.log("x", source_id="s", tags={"a": "1"})
    common = batch(log, E.gauge({"m": 1.0}, source_id="s"))
    assert p.envelopes(common) == E.split_batch(common)
    empty_counter = envelope_pb2.Envelope(source_id="s")
    empty_counter.counter.SetInParent()
    deprecated = E.log("x", source_id="s")
    deprecated.deprecated_tags["k"].text = "v"
    for other in (E.log("no source id"), E.counter("c", delta=1, source_id="s"), empty_counter,
                  deprecated):
        assert p.envelopes(batch(log, other)) is None
    assert PassThrough({}, logs_disabled=True).envelopes(batch(log)) is None


def test_agent_tags_are_added_where_the_envelope_lacks_them():
    p = PassThrough({"job": "agent-job", "zone": "z1"})
    (env,) = p.envelopes(E.join_batch([E.log("x", source_id="s", tags={"job": "own"})
                                       .SerializeToString()]))
    assert dict(envelope_pb2.Envelope.FromString(env).tags) == {"job": "own", "zone": "z1"}
