"""Firehose feed: counts a stream of envelopes per source and type, and samples it for display.

:meth:`FirehoseFeed.ingest` is called from the thread that reads the stream (never the UI's);
every envelope is counted — per source and type, per second for rates — and counters and
gauges feed the live-plot series. What the UI shows is a bounded sample, so a stream of 100k
envelopes a second costs the UI no more than a slow one:

- the display filter's field checks (source, type, name) run on every envelope; the regex,
  which needs the rendered line, runs on at most ``examine_budget`` of them a second, spread
  evenly (every k-th envelope, k set each second from the previous second's rate);
- envelopes that pass wait in a queue of at most ``pending_max`` for the UI to take; when the
  UI falls behind the oldest are skipped and counted;
- ``recent`` keeps a sample (also at most ``examine_budget`` a second) of the last
  ``ring_size`` envelopes whatever the filter, so a new filter shows matches at once.

Sources are capped at ``max_sources``; later ones are counted together as ``(other)``.
Drops are attributed where the stream says: a source's own ``dropped`` counters (components
report their drops that way) add to that source; drops the rlp reports for this very stream
(lgr.core.drops) are the dashboard's own loss and counted apart.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.envelope import KINDS
from lgr.core.observe.connection_status import INJECTED, ConnectionStatus
from lgr.core.observe.envelope_filter import EnvelopeFilter
from lgr.core.observe.series import SeriesBook, SeriesKey

OTHER_SOURCES = "(other)"
Envelope = envelope_pb2.Envelope


@dataclass(frozen=True)
class SourceStats:
    """One source: envelopes a second (over the rate window), totals per type, drops it reported."""

    source_id: str
    rate: float
    total: int
    by_kind: dict[str, int]
    dropped: dict[str, int] = field(default_factory=dict)  # by direction

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())


@dataclass(frozen=True)
class FeedSnapshot:
    """The feed's counts at one moment; ``sources`` are the busiest first, at most ``top``."""

    total: int
    rate: float
    rate_history: list[float]
    by_kind: dict[str, int]
    sources: list[SourceStats]
    source_count: int
    stream_dropped: int
    display_skipped: int
    sample_every: int
    status: ConnectionStatus


class _Source:
    __slots__ = ("kinds", "second", "window", "dropped")

    def __init__(self, window: int) -> None:
        self.kinds = dict.fromkeys(KINDS, 0)
        self.second = 0
        self.window: deque[int] = deque(maxlen=window)
        self.dropped: dict[str, int] = {}


class FirehoseFeed:
    """Aggregates and samples a stream; see the module docstring. Thread-safe."""

    def __init__(
        self,
        *,
        ring_size: int = 2000,
        pending_max: int = 1000,
        examine_budget: int = 5000,
        window: int = 5,
        history: int = 120,
        max_sources: int = 10000,
        series: SeriesBook | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.series = series if series is not None else SeriesBook()
        self.max_sources = max_sources
        self.examine_budget = examine_budget
        self._window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._sources: dict[str, _Source] = {}
        self._recent: deque[Envelope] = deque(maxlen=ring_size)
        self._pending: deque[Envelope] = deque(maxlen=pending_max)
        self._history: deque[int] = deque(maxlen=history)
        self._filter = EnvelopeFilter()
        self._paused = False
        self._total = 0
        self._sec: int | None = None
        self._sec_total = 0
        self._sec_passed = 0  # envelopes that passed the field checks this second
        self._stride_all = 1
        self._stride_match = 1
        self._phase_all = 0
        self._phase_match = 0
        self._stream_dropped = 0
        self._display_skipped = 0
        self._status = ConnectionStatus(INJECTED, "envelopes handed in directly", clock())

    # --- writer side (the stream's thread) ---------------------------------------------------

    def ingest(self, batch: Sequence[Envelope]) -> None:
        """Count ``batch`` and sample it for display."""
        now = self._clock()
        with self._lock:
            self._roll(now)
            sources = self._sources
            flt = self._filter
            cheap = flt.source_ids or flt.kinds or flt.name
            for env in batch:
                sid = env.source_id
                agg = sources.get(sid)
                if agg is None:
                    agg = self._new_source(sid)
                kind = env.WhichOneof("message")
                if kind is not None:
                    agg.kinds[kind] += 1
                    if kind == "counter" or kind == "gauge":
                        self._metric(env, kind, agg, now)
                agg.second += 1
                self._phase_all += 1
                if self._phase_all >= self._stride_all:
                    self._phase_all = 0
                    self._recent.append(env)
                if self._paused:
                    continue
                if cheap and not flt.fields_match(env, kind):
                    continue
                self._sec_passed += 1
                self._phase_match += 1
                if self._phase_match < self._stride_match:
                    continue
                self._phase_match = 0
                if flt.regex is None or flt(env):
                    if len(self._pending) == self._pending.maxlen:
                        self._display_skipped += 1
                    self._pending.append(env)
            self._total += len(batch)
            self._sec_total += len(batch)

    def note_stream_dropped(self, delta: int) -> None:
        """The rlp reported ``delta`` envelopes dropped for this stream."""
        with self._lock:
            self._stream_dropped += delta

    def set_status(self, status: ConnectionStatus) -> None:
        self._status = status

    # --- reader side (the UI) ----------------------------------------------------------------

    @property
    def status(self) -> ConnectionStatus:
        return self._status

    @property
    def filter(self) -> EnvelopeFilter:
        return self._filter

    @property
    def paused(self) -> bool:
        return self._paused

    def set_paused(self, paused: bool) -> None:
        """While paused nothing new queues for display; counting goes on."""
        with self._lock:
            self._paused = paused
            self._pending.clear()

    def set_filter(self, flt: EnvelopeFilter, backfill: int = 0) -> list[Envelope]:
        """Use ``flt`` from now on; return up to ``backfill`` of the recent sample that match it."""
        with self._lock:
            self._filter = flt
            self._pending.clear()
            recent = list(self._recent)
        if not backfill:
            return []
        matched = [env for env in reversed(recent) if flt(env)][:backfill]
        matched.reverse()
        return matched

    def take(self, limit: int) -> tuple[list[Envelope], int]:
        """The envelopes queued for display, oldest first, at most the newest ``limit``;
        and how many were skipped (overflowed or beyond ``limit``) since the previous take."""
        with self._lock:
            items = list(self._pending)
            self._pending.clear()
            skipped, self._display_skipped = self._display_skipped, 0
        if len(items) > limit:
            skipped += len(items) - limit
            items = items[-limit:]
        return items, skipped

    def snapshot(self, top: int = 200) -> FeedSnapshot:
        """Totals, rates and the ``top`` busiest sources, as of now."""
        now = self._clock()
        with self._lock:
            self._roll(now)
            stats = [
                SourceStats(sid, _mean(agg.window, self._window), sum(agg.kinds.values()),
                            dict(agg.kinds), dict(agg.dropped))
                for sid, agg in self._sources.items()
            ]
            by_kind = dict.fromkeys(KINDS, 0)
            for s in stats:
                for k, n in s.by_kind.items():
                    by_kind[k] += n
            history = list(self._history)
            snap = FeedSnapshot(
                total=self._total, rate=_mean(history[-self._window:], self._window),
                rate_history=[float(n) for n in history], by_kind=by_kind, sources=[],
                source_count=len(stats), stream_dropped=self._stream_dropped,
                display_skipped=self._display_skipped, sample_every=self._stride_match,
                status=self._status,
            )
        stats.sort(key=lambda s: (-s.rate, -s.total, s.source_id))
        return dataclasses.replace(snap, sources=stats[:top])

    def sizes(self) -> dict[str, int]:
        """The size of every bounded structure (for tests and the status line)."""
        with self._lock:
            return {"recent": len(self._recent), "pending": len(self._pending),
                    "sources": len(self._sources), "history": len(self._history),
                    "series": len(self.series)}

    # --- internals ---------------------------------------------------------------------------

    def _new_source(self, sid: str) -> _Source:
        if len(self._sources) >= self.max_sources:
            sid = OTHER_SOURCES
            if sid in self._sources:
                return self._sources[sid]
        agg = self._sources[sid] = _Source(self._window)
        return agg

    def _metric(self, env: Envelope, kind: str, agg: _Source, now: float) -> None:
        sid = env.source_id
        if kind == "counter":
            c = env.counter
            series = self.series.get(SeriesKey(sid, "counter", c.name))
            if c.total:
                series.add(now, c.total)
            else:
                series.add_delta(now, c.delta)
            if c.name == "dropped" and c.delta:
                direction = env.tags.get("direction") or (
                    env.deprecated_tags["direction"].text if "direction" in env.deprecated_tags else "")
                key = direction or "unknown"
                agg.dropped[key] = agg.dropped.get(key, 0) + c.delta
        else:
            for name, value in env.gauge.metrics.items():
                self.series.get(SeriesKey(sid, "gauge", name), value.unit).add(now, value.value)

    def _roll(self, now: float) -> None:
        second = int(now)
        if self._sec is None:
            self._sec = second
            return
        if second <= self._sec:
            return
        gap = min(second - self._sec, self._history.maxlen or 1)
        self._history.append(self._sec_total)
        self._history.extend([0] * (gap - 1))
        for agg in self._sources.values():
            agg.window.append(agg.second)
            agg.window.extend([0] * min(gap - 1, self._window))
            agg.second = 0
        budget = max(1, self.examine_budget)
        self._stride_all = max(1, math.ceil(self._sec_total / budget))
        self._stride_match = max(1, math.ceil(self._sec_passed / budget))
        self._sec_total = self._sec_passed = 0
        self._sec = second


def _mean(values, window: int) -> float:
    values = list(values)[-window:]
    return sum(values) / len(values) if values else 0.0
