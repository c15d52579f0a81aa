"""Fuzz the log cache's PromQL: generated, mutated and random queries into the parser and the
evaluator over a small store answer a result or a clean QueryError, never another exception (no
RecursionError, however deep the nesting)."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from lgr.core import envelope
from lgr.core.apps.cache import promql
from lgr.core.apps.cache.store import Store
from tests.fuzz.support import fuzz

NS = 1_000_000_000
T0 = 1_700_000_000 * NS
AT = T0 // NS + 30


def _store() -> Store:
    store = Store()
    envs = []
    for s in range(0, 30, 5):
        for i in ("0", "1"):
            envs.append(envelope.counter("requests", total=s * 3 + int(i), source_id="app",
                                         instance_id=i, tags={"path": "a" * 200 + i},
                                         timestamp=T0 + s * NS))
            envs.append(envelope.gauge({"cpu.percent": (s / 2, "percent"), "mem": (1.0, "b")},
                                       source_id="app", instance_id=i, timestamp=T0 + s * NS))
        envs.append(envelope.timer("http", 0, s * 1000, source_id="db", timestamp=T0 + s * NS))
    store.put_envelopes(envs)
    return store


ENGINE = promql.Engine(_store(), timeout=5.0)

NAMES = st.sampled_from(["requests", "cpu_percent", "mem", "http", "nothing", "sum", "rate", "by"])
REGEXES = st.sampled_from(["a|b", r"(\w+)+!", "(a*)*b", "(a|aa)+$", "[", r"(a)\1", "(?=x)", ".*",
                           "", "app|db", "a{1001}", "\\"])
VALUES = st.one_of(st.sampled_from(["app", "db", "0", "1", "app|db"]), REGEXES, st.text(max_size=8))


@st.composite
def matcher(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(["source_id", "instance_id", "path", "x", "__name__"]))
    op = draw(st.sampled_from(["=", "!=", "=~", "!~"]))
    value = draw(VALUES).replace("\\", "\\\\").replace('"', '\\"')
    return f'{name}{op}"{value}"'


@st.composite
def selector(draw: st.DrawFn) -> str:
    found = draw(st.lists(matcher(), max_size=3))
    if draw(st.integers(0, 9)) < 8:  # mostly a selector that reads something
        found.insert(0, draw(st.sampled_from(['source_id="app"', 'source_id=~"app|db"',
                                              'source_id="db"'])))
    matchers = ", ".join(found)
    name = draw(st.one_of(NAMES, st.just("")))
    return f"{name}{{{matchers}}}" if matchers or not name else name


DURATIONS = st.sampled_from(["5m", "30s", "1h30m", "0s", "1y", "10", "ms", "999999999999d"])
NUMBERS = st.one_of(st.sampled_from(["1", "0", "-0", "1e308", "NaN", "Inf", ".5", "0x1"]),
                    st.floats(allow_nan=False).map(repr))


def expressions() -> st.SearchStrategy[str]:
    leaves = st.one_of(selector(), NUMBERS)

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        ranged = st.tuples(selector(), DURATIONS).map(lambda t: f"{t[0]}[{t[1]}]")
        return st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "%", "^", "==", "and"]), inner)
            .map(" ".join),
            inner.map(lambda e: f"({e})"),
            inner.map(lambda e: f"-{e}"),
            st.tuples(st.sampled_from(["rate", "increase", "avg_over_time", "max_over_time",
                                       "count_over_time", "abs"]), st.one_of(ranged, inner))
            .map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(st.sampled_from(["sum", "avg", "max", "min", "count", "topk"]),
                      st.sampled_from(["", " by (instance_id)", " without (path)", " by ()"]),
                      inner).map(lambda t: f"{t[0]}{t[1]}({t[2]})"),
            ranged,
        )

    return st.recursive(leaves, extend, max_leaves=12)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = list(draw(expressions()))
    tokens = ["(", ")", "{", "}", "[", "]", '"', "=~", ",", "-", "sum(", "\\", "`", "'", " by ", "5m"]
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(text)))
        if draw(st.booleans()) and at < len(text):
            del text[at]
        else:
            text.insert(at, draw(st.sampled_from(tokens)))
    return "".join(text)


DEEP = st.tuples(st.sampled_from(["(", "-", "sum(", "rate(", "+", "- -", "abs("]),
                 st.integers(100, 3000)).map(lambda t: t[0] * t[1] + 'requests{source_id="app"}'
                                             + (")" * t[1] if t[0].endswith("(") else ""))
QUERIES = st.one_of(expressions(), mutated(), DEEP, st.text(max_size=60),
                    st.text(alphabet="()-+*/{}[]\"=~!,sumbyrate 1a", max_size=200))
TIMES = st.one_of(st.just(str(AT)), st.just(""), st.text(max_size=12),
                  st.sampled_from(["1e309", "-1", "nan", "2023-11-14T22:13:50Z", "inf", "1_0"]),
                  st.floats().map(repr))
STEPS = st.one_of(st.sampled_from(["1", "5s", "1m", "0", "-1", "1e-9", "x", "", "1e300"]),
                  st.text(max_size=6))


def _check(error: promql.QueryError) -> None:
    assert error.kind in (promql.BAD_DATA, promql.EXECUTION, promql.INTERNAL)
    assert "Traceback" not in error.message
    assert error.body.startswith(b'{"status":"error"')


@fuzz
@given(QUERIES, TIMES)
def test_instant_queries_answer_or_refuse_cleanly(query, at):
    try:
        tree = promql.parse_query(query)
        promql.source_ids(tree)
        asyncio.run(ENGINE.instant(tree, at))
    except promql.QueryError as exc:
        _check(exc)


@fuzz
@given(QUERIES, st.integers(-40, 40), st.integers(0, 120), STEPS, st.booleans())
def test_range_queries_answer_or_refuse_cleanly(query, start, span, step, raw_times):
    begin, end = (str(AT + start), str(AT + start + span))
    if raw_times:
        begin, end = str(start), f"{span}x" if span % 3 == 0 else str(span)
    try:
        tree = promql.parse_query(query)
        asyncio.run(ENGINE.range(tree, begin, end, step))
    except promql.QueryError as exc:
        _check(exc)
