"""PromQL functions: the arithmetic of range functions, aggregations and binary operators.

Each follows Prometheus 2.x to the last bit (``rate``/``increase`` as ``extrapolatedRate``, ``avg``
as a running mean, division and modulo by zero as Go computes them); lgr.core.apps.cache.promql_eval
calls them on the values it reads out of the store.
"""

from __future__ import annotations

import math

from lgr.core.apps.cache import promql_ast as p

Labels = tuple[tuple[str, str], ...]


class ManyToManyError(Exception):
    """Two series with the same labels on the right of a binary operator."""


def range_function(func: str, points: list[tuple[int, float]], t: int, range_ms: int) -> float | None:
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


def aggregate(node: p.Aggregate, vector: list[tuple[Labels, float]]) -> list[tuple[Labels, float]]:
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


def binary(op: str, lhs, rhs):  # noqa: ANN001, ANN202
    if isinstance(lhs, float) and isinstance(rhs, float):
        return _arith(op, lhs, rhs)
    if isinstance(rhs, float):
        return [(k, _arith(op, v, rhs)) for k, v in lhs]
    if isinstance(lhs, float):
        return [(k, _arith(op, lhs, v)) for k, v in rhs]
    right: dict[Labels, float] = {}
    for k, v in rhs:
        if k in right:
            raise ManyToManyError("many-to-many matching not allowed: duplicate series on the right-hand side")
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
