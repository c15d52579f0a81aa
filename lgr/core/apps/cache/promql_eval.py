"""PromQL evaluation: a parsed query's value at one time, from series read out of the store.

Values are a float (scalar), a list of ``(labels, value)`` (instant vector) or a list of
``(labels, [(t_ms, value), ...])`` (range vector); ``labels`` is a sorted tuple of pairs. Each
selector's series are read once per query, over the whole window the query needs, so a range
query of many steps reads the store once per selector. :meth:`Context.load` does that reading
before the evaluation, in slices of :data:`SLICE` envelopes with the event loop served between
them, so a query over a large store delays the cache's other requests by one slice at a time; the
query's deadline is checked at every slice and at every node evaluated. See
lgr.core.apps.cache.promql for the data model and the Prometheus semantics kept.
"""

from __future__ import annotations

import asyncio
import re
import time
from bisect import bisect_left, bisect_right
from collections.abc import Generator, Iterator

from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.apps.cache import promql_ast as p
from lgr.core.apps.cache import promql_funcs as fn
from lgr.core.apps.cache.store import METRIC_CODES, Store

_SANITIZE = re.compile(r"^[^A-z_]|[\W_]+?", re.ASCII)  # upstream's SanitizeMetricName
_READ_ALL = 1 << 62
SLICE = 500  # envelopes decoded between two turns of the event loop (a few milliseconds)
TIMED_OUT = "query timed out in expression evaluation"
Labels = fn.Labels


def sanitize(name: str) -> str:
    """A metric name as upstream matches it: every character outside ``[A-Za-z0-9_]`` becomes ``_``."""
    return _SANITIZE.sub("_", name)


def selectors(node: object) -> Iterator[p.Selector]:
    """Every instant selector in the tree (those inside range selectors too)."""
    for selector, _ in selector_ranges(node):
        yield selector


def selector_ranges(node: object) -> Iterator[tuple[p.Selector, int | None]]:
    """Every instant selector in the tree with its range (ms; None outside a range selector)."""
    if isinstance(node, p.Selector):
        yield node, None
    elif isinstance(node, p.RangeSelector):
        yield node.selector, node.range_ms
    elif isinstance(node, p.Call):
        yield from selector_ranges(node.arg)
    elif isinstance(node, p.Aggregate):
        yield from selector_ranges(node.expr)
    elif isinstance(node, p.Binary):
        yield from selector_ranges(node.lhs)
        yield from selector_ranges(node.rhs)


def selected_sources(selector: p.Selector) -> list[str]:
    """The source ids a selector reads: ``source_id="a"``, or ``source_id=~"a|b"`` split on ``|``."""
    out: list[str] = []
    for m in selector.matchers:
        if m.name == "source_id" and m.op in ("=", "=~"):
            out += [s for s in (m.value.split("|") if m.op == "=~" else [m.value]) if s not in out]
    return out


class EvalError(Exception):
    """The query could not be evaluated: ``kind`` is "bad_data" (a selector names no source id),
    "execution" (many-to-many matching) or "internal" (the timeout)."""

    def __init__(self, message: str, kind: str = "internal") -> None:
        super().__init__(message)
        self.kind = kind


class Context:
    """One query's evaluation over ``[start_ms, end_ms]`` (the steps), reading ``store``."""

    def __init__(self, store: Store, start_ms: int, end_ms: int, lookback_ms: int,
                 deadline: float) -> None:
        self.store = store
        self.start_ms, self.end_ms = start_ms, end_ms
        self.lookback_ms = lookback_ms
        self.deadline = deadline
        self._series: dict[tuple[p.Selector, int], list[tuple[Labels, list[int], list[float]]]] = {}

    async def load(self, tree: object) -> None:
        """Read the series of every selector in ``tree``, serving the event loop between slices."""
        for sel, range_ms in selector_ranges(tree):
            window = self.lookback_ms if range_ms is None else range_ms
            if (sel, window) in self._series:
                continue
            building = self._build(sel, window)
            while True:
                try:
                    next(building)
                except StopIteration as done:
                    self._series[(sel, window)] = done.value
                    break
                await asyncio.sleep(0)

    def evaluate(self, node: object, t: int):  # noqa: ANN201 - float | vector | matrix
        """The value of ``node`` at ``t`` (ms)."""
        if time.monotonic() > self.deadline:
            raise EvalError(TIMED_OUT)
        if isinstance(node, p.Number):
            return node.value
        if isinstance(node, p.Selector):
            return self._instant(node, t)
        if isinstance(node, p.RangeSelector):
            return self._range(node, t)
        if isinstance(node, p.Call):
            return [(k, v) for k, pts in self._range(node.arg, t)
                    if (v := fn.range_function(node.func, pts, t, node.arg.range_ms)) is not None]
        if isinstance(node, p.Aggregate):
            return fn.aggregate(node, self.evaluate(node.expr, t))
        if isinstance(node, p.Binary):
            try:
                return fn.binary(node.op, self.evaluate(node.lhs, t), self.evaluate(node.rhs, t))
            except fn.ManyToManyError as exc:
                raise EvalError(str(exc), "execution") from None
        raise EvalError(f"cannot evaluate {type(node).__name__}")

    def _instant(self, sel: p.Selector, t: int) -> list[tuple[Labels, float]]:
        out = []
        for key, times, values in self.series(sel, self.lookback_ms):
            i = bisect_left(times, t)
            if i < len(times) and times[i] == t:
                out.append((key, values[i]))
            elif i > 0 and times[i - 1] >= t - self.lookback_ms:
                out.append((key, values[i - 1]))
        return out

    def _range(self, node: p.RangeSelector, t: int) -> list[tuple[Labels, list[tuple[int, float]]]]:
        out = []
        for key, times, values in self.series(node.selector, node.range_ms):
            lo, hi = bisect_left(times, t - node.range_ms), bisect_right(times, t)
            if hi > lo:
                out.append((key, list(zip(times[lo:hi], values[lo:hi]))))
        return out

    def series(self, sel: p.Selector, window_ms: int) -> list[tuple[Labels, list[int], list[float]]]:
        """The selector's series over the query's window: labels, times (ms) and values."""
        cached = self._series.get((sel, window_ms))
        if cached is None:  # not loaded: read it now, all at once
            cached = self._series[(sel, window_ms)] = _drain(self._build(sel, window_ms))
        return cached

    def _build(self, sel: p.Selector, window_ms: int) -> Generator[None, None, list]:
        """Read the selector's series, yielding after every SLICE envelopes; returns them."""
        sources = selected_sources(sel)
        if not sources:
            raise EvalError(f"Metric '{sel.name}' does not have a 'source_id' label.", "bad_data")
        # As upstream's querier: from a second before the window to its end (exclusive).
        start_ns = (self.start_ms - window_ms - 1000) * 1_000_000
        end_ns = self.end_ms * 1_000_000
        built: dict[Labels, tuple[list[int], list[float]]] = {}
        for sid in sources:
            for n, data in enumerate(self.store.read(sid, start_ns, end_ns, METRIC_CODES, _READ_ALL)):
                if n % SLICE == SLICE - 1:
                    if time.monotonic() > self.deadline:
                        raise EvalError(TIMED_OUT)
                    yield
                sample = _sample(envelope_pb2.Envelope.FromString(data), sel)
                if sample is not None:
                    key, t, v = sample
                    times, values = built.setdefault(key, ([], []))
                    times.append(t)
                    values.append(v)
        return [(k, ts, vs) for k, (ts, vs) in built.items()]


def _drain(building: Generator[None, None, list]) -> list:
    """Run ``building`` to its end without pausing; its result."""
    while True:
        try:
            next(building)
        except StopIteration as done:
            return done.value


def _sample(env: envelope_pb2.Envelope, sel: p.Selector) -> tuple[Labels, int, float] | None:
    kind = env.WhichOneof("message")
    if kind == "counter":
        if sanitize(env.counter.name) != sel.name:
            return None
        value = float(env.counter.total)
    elif kind == "gauge":
        found = next((m for name, m in env.gauge.metrics.items() if sanitize(name) == sel.name), None)
        if found is None:
            return None
        value = found.value
    elif kind == "timer":
        if sanitize(env.timer.name) != sel.name:
            return None
        value = float(env.timer.stop - env.timer.start)
    else:
        return None
    labels = dict(env.tags)
    labels["source_id"] = env.source_id
    if env.instance_id:
        labels["instance_id"] = env.instance_id
    if not all(m.matches(labels.get(m.name, "")) for m in sel.matchers):
        return None
    return tuple(sorted(labels.items())), env.timestamp // 1_000_000_000 * 1000, value
