"""PromQL evaluation: a parsed query's value at one time, from series read out of the store.

Values are a float (scalar), a list of ``(labels, value)`` (instant vector) or a list of
``(labels, [(t_ms, value), ...])`` (range vector); ``labels`` is a sorted tuple of pairs. Each
selector's series are read once per query, over the whole window the query needs, so a range
query of many steps reads the store once per selector. See lgr.core.apps.cache.promql for the
data model and the Prometheus semantics kept.
"""

from __future__ import annotations

import math
import re
import time
from bisect import bisect_left, bisect_right
from collections.abc import Iterator

from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.apps.cache import promql_ast as p
from lgr.core.apps.cache.store import METRIC_CODES, Store

_SANITIZE = re.compile(r"^[^A-z_]|[\W_]+?", re.ASCII)  # upstream's SanitizeMetricName
_READ_ALL = 1 << 62
Labels = tuple[tuple[str, str], ...]


def sanitize(name: str) -> str:
    """A metric name as upstream matches it: every character outside ``[A-Za-z0-9_]`` becomes ``_``."""
    return _SANITIZE.sub("_", name)


def selectors(node: object) -> Iterator[p.Selector]:
    """Every instant selector in the tree (those inside range selectors too)."""
    if isinstance(node, p.Selector):
        yield node
    elif isinstance(node, p.RangeSelector):
        yield node.selector
    elif isinstance(node, p.Call):
        yield from selectors(node.arg)
    elif isinstance(node, p.Aggregate):
        yield from selectors(node.expr)
    elif isinstance(node, p.Binary):
        yield from selectors(node.lhs)
        yield from selectors(node.rhs)


def selected_sources(selector: p.Selector) -> list[str]:
    """The source ids a selector reads: ``source_id="a"``, or ``source_id=~"a|b"`` split on ``|``."""
    out: list[str] = []
    for m in selector.matchers:
        if m.name == "source_id" and m.op in ("=", "=~"):
            out += [s for s in (m.value.split("|") if m.op == "=~" else [m.value]) if s not in out]
    return out


class EvalError(Exception):
    """The query could not be evaluated (no source id, timeout, many-to-many matching)."""


class Context:
    """One query's evaluation over ``[start_ms, end_ms]`` (the steps), reading ``store``."""

    def __init__(self, store: Store, start_ms: int, end_ms: int, lookback_ms: int,
                 deadline: float) -> None:
        self.store = store
        self.start_ms, self.end_ms = start_ms, end_ms
        self.lookback_ms = lookback_ms
        self.deadline = deadline
        self._series: dict[tuple[p.Selector, int], list[tuple[Labels, list[int], list[float]]]] = {}

    def evaluate(self, node: object, t: int):  # noqa: ANN201 - float | vector | matrix
        """The value of ``node`` at ``t`` (ms)."""
        if time.monotonic() > self.deadline:
            raise EvalError("query timed out in expression evaluation")
        if isinstance(node, p.Number):
            return node.value
        if isinstance(node, p.Selector):
            return self._instant(node, t)
        if isinstance(node, p.RangeSelector):
            return self._range(node, t)
        if isinstance(node, p.Call):
            return [(k, v) for k, pts in self._range(node.arg, t)
                    if (v := _range_function(node.func, pts, t, node.arg.range_ms)) is not None]
        if isinstance(node, p.Aggregate):
            return _aggregate(node, self.evaluate(node.expr, t))
        if isinstance(node, p.Binary):
            return _binary(node.op, self.evaluate(node.lhs, t), self.evaluate(node.rhs, t))
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
        if cached is not None:
            return cached
        sources = selected_sources(sel)
        if not sources:
            raise EvalError(f"Metric '{sel.name}' does not have a 'source_id' label.")
        # As upstream's querier: from a second before the window to its end (exclusive).
        start_ns = (self.start_ms - window_ms - 1000) * 1_000_000
        end_ns = self.end_ms * 1_000_000
        built: dict[Labels, tuple[list[int], list[float]]] = {}
        for sid in sources:
            for n, data in enumerate(self.store.read(sid, start_ns, end_ns, METRIC_CODES, _READ_ALL)):
                if n % 1000 == 999 and time.monotonic() > self.deadline:
                    raise EvalError("query timed out in expression evaluation")
                sample = _sample(envelope_pb2.Envelope.FromString(data), sel)
                if sample is not None:
                    key, t, v = sample
                    times, values = built.setdefault(key, ([], []))
                    times.append(t)
                    values.append(v)
        result = [(k, ts, vs) for k, (ts, vs) in built.items()]
        self._series[(sel, window_ms)] = result
        return result


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


def _range_function(func: str, points: list[tuple[int, float]], t: int, range_ms: int) -> float | None:
    values = [v for _, v in points]
    if func in ("rate", "increase"):
        return _extrapolated_rate(points, t - range_ms, t, range_ms, func == "rate")
    if func == "count_over_time":
        return float(len(values))
    if func == "sum_over_time":
        return _sum(values)
    if func == "min_over_time":
        return _fold(values, lambda a, b: b < a)
    if func == "max_over_time":
        return _fold(values, lambda a, b: b > a)
    return _mean(values)  # avg_over_time


def _extrapolated_rate(points: list[tuple[int, float]], range_start: int, range_end: int,
                       range_ms: int, is_rate: bool) -> float | None:
    """Prometheus 2.x ``extrapolatedRate`` for a counter."""
    if len(points) < 2:
        return None
    correction, last = 0.0, 0.0
    for _, v in points:
        if v < last:
            correction += last
        last = v
    first_t, first_v = points[0]
    last_t = points[-1][0]
    result = last - first_v + correction
    to_start = (first_t - range_start) / 1000
    to_end = (range_end - last_t) / 1000
    sampled = (last_t - first_t) / 1000
    average = sampled / (len(points) - 1)
    if result > 0 and first_v >= 0:
        to_zero = _div(sampled * first_v, result)
        if to_zero < to_start:
            to_start = to_zero
    threshold = average * 1.1
    interval = sampled
    interval += to_start if to_start < threshold else average / 2
    interval += to_end if to_end < threshold else average / 2
    result = result * _div(interval, sampled)
    return result / (range_ms / 1000) if is_rate else result


def _aggregate(node: p.Aggregate, vector: list[tuple[Labels, float]]) -> list[tuple[Labels, float]]:
    groups: dict[Labels, list[float]] = {}
    wanted = set(node.labels)
    for key, v in vector:
        if node.without:
            group = tuple((k, x) for k, x in key if k not in wanted and k != "__name__")
        else:
            group = tuple((k, x) for k, x in key if k in wanted)
        groups.setdefault(group, []).append(v)
    fold = {
        "sum": _sum,
        "avg": _mean,
        "count": lambda vs: float(len(vs)),
        "max": lambda vs: _fold(vs, lambda a, b: b > a),
        "min": lambda vs: _fold(vs, lambda a, b: b < a),
    }[node.op]
    return [(group, fold(values)) for group, values in groups.items()]


def _sum(values: list[float]) -> float:
    total = 0.0
    for v in values:
        total += v
    return total


def _mean(values: list[float]) -> float:
    mean, count = 0.0, 0
    for v in values:  # Prometheus's running mean, so results match it to the last bit
        count += 1
        mean += (v - mean) / count
    return mean


def _fold(values: list[float], better) -> float:  # noqa: ANN001
    best = values[0]
    for v in values[1:]:
        if better(best, v) or math.isnan(best):
            best = v
    return best


def _binary(op: str, lhs, rhs):  # noqa: ANN001, ANN202
    if isinstance(lhs, float) and isinstance(rhs, float):
        return _arith(op, lhs, rhs)
    if isinstance(rhs, float):
        return [(k, _arith(op, v, rhs)) for k, v in lhs]
    if isinstance(lhs, float):
        return [(k, _arith(op, lhs, v)) for k, v in rhs]
    right: dict[Labels, float] = {}
    for k, v in rhs:
        if k in right:
            raise EvalError("many-to-many matching not allowed: duplicate series on the right-hand side")
        right[k] = v
    return [(k, _arith(op, v, right[k])) for k, v in lhs if k in right]


def _arith(op: str, a: float, b: float) -> float:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return _div(a, b)
    return math.fmod(a, b) if b != 0 and not math.isinf(a) else math.nan


def _div(a: float, b: float) -> float:
    """a / b with IEEE results for a zero divisor, as Go computes it."""
    if b != 0:
        return a / b
    if a == 0 or math.isnan(a):
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)
