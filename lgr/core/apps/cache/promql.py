"""PromQL: instant and range queries over the store's counters, gauges and timers, as log cache runs them.

Log cache's data model (log-cache-release ``internal/promql``): a selector must name its source
ids with ``source_id="id"`` or ``source_id=~"a|b"`` (the regex is split on ``|``); an envelope's
samples are a counter's total, a gauge metric's value and a timer's ``stop - start``, matched by
name after upstream's sanitizing (``cpu.percent`` is ``cpu_percent``); labels are the tags plus
``source_id`` and a non-empty ``instance_id`` (no ``__name__``); timestamps are truncated to the
second. Evaluation follows Prometheus 2.x: instant selectors look back 5 minutes, range selectors
hold ``[t - range, t]``, ``rate``/``increase`` extrapolate as ``extrapolatedRate`` does, ``avg``
is a running mean. Results are sorted by labels.

Answers are the Prometheus HTTP API's JSON exactly as log cache's marshaler writes it: times as
seconds with three decimals, values as Go's shortest ``'f'`` strings. A query the client got wrong
(its syntax, a time, a step, a range, a selector naming no source id) is ``bad_data`` (HTTP 400),
many-to-many matching is ``execution`` (422), as Prometheus's own API answers them (gRPC:
INVALID_ARGUMENT); only the timeout is ``internal`` (500, gRPC UNKNOWN).

Queries run on the event loop without holding it: the store is read in slices (promql_eval) and
a range query serves the loop between its steps every :data:`TURN` seconds, so one long query
delays others by milliseconds, and QUERY_TIMEOUT ends it at the next slice or step.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from decimal import Decimal
from typing import NamedTuple

from lgr.core.apps.cache import promql_eval as ev
from lgr.core.apps.cache import promql_parser as p
from lgr.core.apps.cache.store import Store

LOOKBACK_MS = 5 * 60 * 1000
MAX_POINTS = 11_000  # per series, as Prometheus's API limits range queries
BAD_DATA, EXECUTION, INTERNAL = "bad_data", "execution", "internal"
STATUS = {BAD_DATA: 400, EXECUTION: 422, INTERNAL: 500}  # as Prometheus's API answers each
TURN = 0.005  # seconds a range query computes steps before it lets the event loop run


Labels = tuple  # a series' labels: sorted ``(name, value)`` pairs
Series = tuple[Labels, list[tuple[int, float]]]


class Result(NamedTuple):
    """An instant query's value; ``type`` is the expression's (scalar, vector or matrix)."""

    type: str
    value: tuple[int, float] | list


class QueryError(Exception):
    """A query that cannot be answered: ``kind`` bad_data (400), execution (422) or internal (500)."""

    def __init__(self, message: str, kind: str = INTERNAL) -> None:
        super().__init__(message)
        self.message, self.kind = message, kind

    @property
    def status(self) -> int:
        return STATUS[self.kind]

    @property
    def body(self) -> bytes:
        return _dumps({"status": "error", "errorType": self.kind, "error": self.message})


def parse_query(query: str) -> object:
    """The syntax tree of ``query``; QueryError (bad_data) when it is not supported PromQL."""
    try:
        return p.parse(query)
    except p.ParseError as exc:
        raise QueryError(str(exc), BAD_DATA) from None
    except RecursionError:  # the parser bounds the depth first; never a traceback in an answer
        raise QueryError(p.TOO_DEEP, BAD_DATA) from None


def source_ids(tree: object) -> list[str]:
    """Every source id the query's selectors name (what authorization checks)."""
    found: list[str] = []
    for selector in ev.selectors(tree):
        for sid in ev.selected_sources(selector):
            if sid not in found:
                found.append(sid)
    return found


def parse_time(param: str) -> int:
    """Unix seconds (with a fraction) or RFC 3339 text as nanoseconds, as upstream's ParseTime."""
    try:
        return int(float(param) * 1e9)
    except (ValueError, OverflowError):
        pass
    try:
        from datetime import datetime

        return int(datetime.fromisoformat(param.replace("Z", "+00:00")).timestamp() * 1e9)
    except (ValueError, OverflowError):
        raise QueryError(f"cannot parse {param!r} to a valid Unix or RFC3339 timestamp",
                         BAD_DATA) from None


def parse_step(param: str) -> int:
    """A step in milliseconds from seconds (``15``, ``0.5``) or a duration (``1m``)."""
    try:
        return int(float(param) * 1000)
    except (ValueError, OverflowError):
        pass
    try:
        return p.parse_duration_ms(param)
    except p.ParseError:
        raise QueryError(f"cannot parse {param!r} to a valid step", BAD_DATA) from None


class Engine:
    """Answers queries from ``store``; a query running longer than ``timeout`` s fails."""

    def __init__(self, store: Store, timeout: float = 10.0) -> None:
        self.store = store
        self.timeout = timeout

    async def instant(self, tree: object, time_param: str = "") -> bytes:
        """The JSON answer of an instant query at ``time_param`` (default: now, whole second)."""
        result = await self.instant_result(tree, time_param)
        if result.type == p.SCALAR:
            t, value = result.value  # type: ignore[misc]
            return _success("scalar", _point(t, value))
        if result.type == p.MATRIX:
            return _success("matrix", [_series(k, pts) for k, pts in result.value])  # type: ignore[union-attr]
        return _success("vector", [{"metric": _Labels(k), "value": _point(t, v)}
                                   for k, t, v in result.value])  # type: ignore[union-attr]

    async def range(self, tree: object, start: str, end: str, step: str) -> bytes:
        """The JSON answer (a matrix) of a range query."""
        series = await self.range_result(tree, start, end, step)
        return _success("matrix", [_series(k, pts) for k, pts in series])

    async def instant_result(self, tree: object, time_param: str = "") -> Result:
        """An instant query's value: a scalar ``(t, v)``, a vector of ``(labels, t, v)`` or a
        matrix of ``(labels, [(t, v), ...])``, sorted by labels; times in ms."""
        at_ns = parse_time(time_param) if time_param else time.time_ns() // 10**9 * 10**9
        t = at_ns // 1_000_000
        ctx = ev.Context(self.store, t, t, LOOKBACK_MS, time.monotonic() + self.timeout)
        await _load(ctx, tree)
        value = _evaluate(ctx, tree, t)
        node_type = tree.type  # type: ignore[attr-defined]
        if node_type == p.SCALAR:
            return Result(node_type, (t, value))
        if node_type == p.MATRIX:
            return Result(node_type, sorted(value))
        return Result(p.VECTOR, [(k, t, v) for k, v in sorted(value)])

    async def range_result(self, tree: object, start: str, end: str, step: str) -> list[Series]:
        """A range query's matrix: ``(labels, [(t, v), ...])`` sorted by labels; times in ms."""
        try:
            step_ms = parse_step(step)
        except QueryError as exc:
            raise QueryError(f"couldn't parse step: {exc.message}", BAD_DATA) from None
        bounds = []
        for name, param in (("start", start), ("end", end)):
            try:
                bounds.append(parse_time(param) // 1_000_000)
            except QueryError as exc:
                raise QueryError(f"couldn't parse {name}: {exc.message}", BAD_DATA) from None
        start_ms, end_ms = bounds
        if step_ms <= 0:
            raise QueryError("zero or negative query resolution step widths are not accepted. "
                             "Try a positive integer", BAD_DATA)
        if end_ms < start_ms:
            raise QueryError("end timestamp must not be before start time", BAD_DATA)
        if (end_ms - start_ms) // step_ms + 1 > MAX_POINTS:
            raise QueryError("exceeded maximum resolution of 11,000 points per timeseries. "
                             "Try decreasing the query resolution (?step=XX)", BAD_DATA)
        if tree.type not in (p.SCALAR, p.VECTOR):  # type: ignore[attr-defined]
            raise QueryError(f'invalid expression type "{tree.type}" for range query, '  # type: ignore[attr-defined]
                             "must be Scalar or instant Vector", BAD_DATA)
        ctx = ev.Context(self.store, start_ms, end_ms, LOOKBACK_MS, time.monotonic() + self.timeout)
        await _load(ctx, tree)
        series: dict[tuple, list[tuple[int, float]]] = {}
        turn = time.monotonic() + TURN
        for t in range(start_ms, end_ms + 1, step_ms):
            value = _evaluate(ctx, tree, t)
            samples = [((), value)] if tree.type == p.SCALAR else value  # type: ignore[attr-defined]
            for key, v in samples:
                series.setdefault(key, []).append((t, v))
            if time.monotonic() > turn:
                await asyncio.sleep(0)
                turn = time.monotonic() + TURN
        return sorted(series.items())


async def _load(ctx: ev.Context, tree: object) -> None:
    try:
        await ctx.load(tree)
    except ev.EvalError as exc:
        raise QueryError(str(exc), exc.kind) from None


def _evaluate(ctx: ev.Context, tree: object, t: int):  # noqa: ANN202
    try:
        return ctx.evaluate(tree, t)
    except ev.EvalError as exc:
        raise QueryError(str(exc), exc.kind) from None
    except RecursionError:  # the parser bounds the depth; this keeps a traceback out of any answer
        raise QueryError(p.TOO_DEEP, BAD_DATA) from None


def _success(result_type: str, result: list) -> bytes:  # a list of samples or one point
    return _dumps({"status": "success", "data": {"resultType": result_type, "result": result}})


def _series(key: tuple, points: list[tuple[int, float]]) -> dict:
    return {"metric": _Labels(key), "values": [_point(t, v) for t, v in points]}


def _point(t_ms: int, value: float) -> list:
    return [_Raw(format_time(t_ms)), format_value(value)]


def format_time(t_ms: int) -> str:
    """A sample time as log cache writes it: Unix seconds with three decimals (Go's ``%.3f``)."""
    sign, t = ("-", -t_ms) if t_ms < 0 else ("", t_ms)
    return f"{sign}{t // 1000}.{t % 1000:03d}"


class _Raw(str):
    """JSON text to insert as is."""


class _Labels(dict):
    """A label map: written with sorted keys, as Go writes a map (struct fields keep their order)."""


def format_value(value: float) -> str:
    """A sample value as Go's ``strconv.FormatFloat(v, 'f', -1, 64)``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return format(Decimal(repr(float(value))).normalize(), "f")


def _dumps(doc: object) -> bytes:
    """Compact JSON as Go's encoding/json writes it: sorted map keys, HTML-safe escapes, newline."""
    text = _encode(doc)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, escaped)
    return (text + "\n").encode("utf-8")


def _encode(doc: object) -> str:
    if isinstance(doc, _Raw):
        return str(doc)
    if isinstance(doc, dict):
        keys = sorted(doc) if isinstance(doc, _Labels) else list(doc)
        return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{_encode(doc[k])}"
                              for k in keys) + "}"
    if isinstance(doc, list):
        return "[" + ",".join(_encode(x) for x in doc) + "]"
    return json.dumps(doc, ensure_ascii=False)


__all__ = ["Engine", "QueryError", "Result", "format_time", "format_value", "parse_query",
           "source_ids"]
