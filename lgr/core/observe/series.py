"""Series: a bounded time series of one metric, one point per second, for live plots.

A counter's points are its running total, a gauge's its value; :meth:`Series.values` gives
what a plot shows: the per-second rate for a counter (a drop in the total, i.e. a restart,
counts from zero), the value for a gauge. Memory is bounded by ``maxlen`` points per series,
and :class:`SeriesBook` bounds how many series it keeps.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass

DEFAULT_POINTS = 600  # ten minutes at one point a second
DEFAULT_SERIES = 1000


@dataclass(frozen=True)
class SeriesKey:
    """Which metric: ``origin`` (a source id, or a component's name), ``kind`` (counter,
    gauge), ``name`` (with its Prometheus labels when scraped), and ``via``: ``stream`` for
    envelopes in the firehose, ``scrape`` for a component's metrics endpoint."""

    origin: str
    kind: str
    name: str
    via: str = "stream"

    @property
    def title(self) -> str:
        return f"{self.origin} {self.kind} {self.name}" + (" (scraped)" if self.via == "scrape" else "")


class Series:
    """The last ``maxlen`` seconds of one metric: (whole second, value) points."""

    __slots__ = ("key", "unit", "points", "_lock")

    def __init__(self, key: SeriesKey, maxlen: int = DEFAULT_POINTS, unit: str = "") -> None:
        self.key = key
        self.unit = unit
        self.points: deque[tuple[int, float]] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def add(self, when: float, value: float) -> None:
        """Record ``value`` at time ``when``; a second already recorded keeps the later value."""
        second = int(when)
        with self._lock:
            if self.points and self.points[-1][0] >= second:
                self.points[-1] = (self.points[-1][0], value)
            else:
                self.points.append((second, value))

    def add_delta(self, when: float, delta: float) -> None:
        """Add ``delta`` to the running total (for counters that report only deltas)."""
        with self._lock:
            last = self.points[-1][1] if self.points else 0.0
        self.add(when, last + delta)

    def snapshot(self) -> list[tuple[int, float]]:
        with self._lock:
            return list(self.points)

    def values(self) -> list[float]:
        """What to plot: per-second rates for a counter, values for a gauge, oldest first."""
        points = self.snapshot()
        if self.key.kind != "counter":
            return [v for _, v in points]
        rates = []
        for (t0, v0), (t1, v1) in zip(points, points[1:]):
            rise = v1 - v0 if v1 >= v0 else v1  # the total fell: the source restarted
            rates.append(rise / max(1, t1 - t0))
        return rates

    @property
    def latest(self) -> float | None:
        with self._lock:
            return self.points[-1][1] if self.points else None


class SeriesBook:
    """Series by key, at most ``max_series`` of them (the least recently updated go first)."""

    def __init__(self, max_series: int = DEFAULT_SERIES, points: int = DEFAULT_POINTS) -> None:
        self.max_series = max_series
        self.points = points
        self._series: OrderedDict[SeriesKey, Series] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: SeriesKey, unit: str = "") -> Series:
        """The series for ``key``, made (and the stalest evicted) when new."""
        with self._lock:
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = Series(key, self.points, unit)
                while len(self._series) > self.max_series:
                    self._series.popitem(last=False)
            else:
                self._series.move_to_end(key)
            return series

    def find(self, key: SeriesKey) -> Series | None:
        with self._lock:
            return self._series.get(key)

    def keys(self) -> list[SeriesKey]:
        with self._lock:
            return sorted(self._series, key=lambda k: (k.via != "scrape", k.origin, k.kind, k.name))

    def __len__(self) -> int:
        return len(self._series)
