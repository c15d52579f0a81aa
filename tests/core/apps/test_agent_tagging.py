"""Agent tagging rules and counter totals (the v2 path), one rule at a time."""

from __future__ import annotations

import pytest

from lgr.core import envelope as E
from lgr.core._proto.events import metric_pb2
from lgr.core.apps.agent.counter_totals import CounterTotals
from lgr.core.apps.agent.tagging import Tagger, format_float, serialize_all
from lgr.core.metrics import Registry


def tagger(tags=None, logs_disabled=False, totals=None) -> Tagger:
    mappings = Registry().counter("origin_mappings", "help")
    return Tagger(tags or {}, mappings, totals, logs_disabled)


def test_deprecated_tags_overwrite_tags_and_stay():
    env = E.log("x", source_id="s", tags={"a": "new"})
    env.deprecated_tags["a"].text = "old"
    env.deprecated_tags["empty"].SetInParent()
    tagger().prepare(env)
    assert dict(env.tags) == {"a": "old", "empty": ""}
    assert env.deprecated_tags["a"].text == "old"


@pytest.mark.parametrize(("value", "text"), [
    (0.25, "0.25"), (3.0, "3"), (-0.0, "-0"), (1e22, "10000000000000000000000"),
    (1e-7, "0.0000001"), (0.1 + 0.2, "0.30000000000000004"), (float("inf"), "+Inf"),
    (float("-inf"), "-Inf"), (float("nan"), "NaN"),
])
def test_format_float_matches_go_formatfloat_f_minus_one(value, text):
    assert format_float(value) == text


def test_origin_mapping_is_counted_only_when_used():
    t = tagger()
    t.prepare(E.log("x", tags={"origin": "o"}))
    t.prepare(E.log("x", source_id="s", tags={"origin": "o"}))
    t.prepare(E.log("x"))
    assert t._origin_mappings.value == 1


def test_logs_disabled_filters_only_logs():
    t = tagger(logs_disabled=True)
    envs = [E.log("x"), E.counter("c", delta=1), E.gauge({"g": 1.0}), E.timer("t", 1, 2), E.event("a", "b")]
    assert [E.Envelope.FromString(b).WhichOneof("message") for b in serialize_all(t, envs)] == [
        "counter", "gauge", "timer", "event",
    ]


def test_counter_identity_includes_the_agents_tags():
    totals = CounterTotals()
    t = tagger({"az": "z1"}, totals=totals)
    a = E.counter("c", delta=1, source_id="s")
    b = E.counter("c", delta=1, source_id="s", tags={"az": "z2"})
    c = E.counter("c", delta=1, source_id="s")
    for env in (a, b, c):
        t.prepare(env)
    assert (a.counter.total, b.counter.total, c.counter.total) == (1, 1, 2)


def test_counter_totals_reset_past_the_limit_and_wrap_like_uint64():
    totals = CounterTotals(max_counters=2)
    for name in ("a", "b", "c"):
        totals.apply(E.counter(name, delta=1))
    env = E.counter("a", delta=5)
    totals.apply(env)  # the map held 3 > 2 counters, so it started over
    assert env.counter.total == 5
    big = E.counter("big", total=2**64 - 1)
    totals.apply(big)
    wrapped = E.counter("big", delta=2)
    totals.apply(wrapped)
    assert wrapped.counter.total == 1


def test_v2_zero_delta_without_total_resets_the_total():
    totals = CounterTotals()
    totals.apply(E.counter("c", delta=4))
    zero = E.counter("c")
    totals.apply(zero)
    assert zero.counter.total == 0
