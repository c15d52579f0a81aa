"""Component watcher: scrapes each target's metrics on a timer and keeps its health, uptime and rates.

Each poll GETs every target's metrics URL (in parallel, each bounded by a timeout), parses it
(lgr.core.observe.prom_scrape) and turns the change of the ingress / egress / dropped totals
since the previous poll into per-second rates, kept for the last ``history`` polls for
sparklines. Every counter and gauge scraped also goes into a :class:`SeriesBook` for the
Metrics view. A total that falls means the component restarted: the rate counts from zero and
``restarts`` goes up.

Health: ``up`` when the scrape answered, ``down`` (with the reason) when not; a target without
a metrics URL is ``up`` when its gRPC port completes an mTLS handshake. Uptime comes from
``process_start_time_seconds`` when a component exposes it, else from the start time of a local
pid (Linux /proc), else from when the watcher first saw it up (``uptime_exact`` False).
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from lgr.core.observe import prom_scrape
from lgr.core.observe.series import SeriesBook, SeriesKey
from lgr.core.observe.targets import Target

Fetch = Callable[[str], str]
Probe = Callable[[Target], bool]

HISTORY = 60  # polls kept for sparklines


@dataclass
class ComponentStatus:
    """What the dashboard knows about one target (a copy; safe to read on any thread)."""

    target: Target
    health: str = "unknown"  # unknown (not polled yet), up, down
    error: str = ""
    started_at: float | None = None  # Unix seconds
    uptime_exact: bool = False
    ingress_rate: float | None = None
    egress_rate: float | None = None
    dropped_rates: dict[str, float] = field(default_factory=dict)
    dropped_totals: dict[str, float] = field(default_factory=dict)
    ingress_history: list[float] = field(default_factory=list)
    egress_history: list[float] = field(default_factory=list)
    dropped_history: list[float] = field(default_factory=list)
    restarts: int = 0
    polled_at: float | None = None

    @property
    def name(self) -> str:
        return self.target.name

    @property
    def dropped_rate(self) -> float:
        return sum(self.dropped_rates.values())

    def uptime(self, now: float) -> float | None:
        return None if self.started_at is None or self.health != "up" else max(0.0, now - self.started_at)


class _Track:
    """Mutable per-target state between polls."""

    def __init__(self, target: Target, history: int) -> None:
        self.status = ComponentStatus(target)
        self.prev: tuple[float, prom_scrape.Flow] | None = None
        self.ingress: deque[float] = deque(maxlen=history)
        self.egress: deque[float] = deque(maxlen=history)
        self.dropped: deque[float] = deque(maxlen=history)


class ComponentWatcher:
    """Polls ``targets`` every ``interval`` seconds on a background thread (or on demand)."""

    def __init__(
        self,
        targets: Iterable[Target],
        fetch: Fetch,
        probe: Probe | None = None,
        *,
        interval: float = 1.0,
        history: int = HISTORY,
        series: SeriesBook | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.targets = list(targets)
        self.interval = interval
        self.series = series if series is not None else SeriesBook()
        self._fetch = fetch
        self._probe = probe
        self._clock = clock
        self._tracks = {t.name: _Track(t, history) for t in self.targets}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(max_workers=max(1, min(8, len(self.targets))),
                                        thread_name_prefix="lgr-scrape")

    def statuses(self) -> list[ComponentStatus]:
        """Every target's status, in target order."""
        with self._lock:
            return [replace(self._tracks[t.name].status) for t in self.targets]

    def poll_once(self) -> None:
        """Scrape (or probe) every target now and update their statuses."""
        results = list(self._pool.map(self._collect, self.targets))
        now = self._clock()
        with self._lock:
            for target, result in zip(self.targets, results):
                self._apply(self._tracks[target.name], now, result)

    def start(self) -> None:
        """Poll on a daemon thread until :meth:`stop`."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="lgr-components", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self.poll_once()
            self._stop.wait(max(0.05, self.interval - (time.monotonic() - started)))

    def _collect(self, target: Target) -> tuple[str, object]:
        if not target.metrics_url:
            if self._probe is None or not target.address:
                return "unknown", "no metrics URL"
            return ("up", None) if self._probe(target) else ("down", f"no mTLS handshake at {target.address}")
        try:
            return "up", prom_scrape.parse(self._fetch(target.metrics_url))
        except (OSError, prom_scrape.ScrapeError) as exc:
            return "down", _reason(exc, target.metrics_url)

    def _apply(self, track: _Track, now: float, result: tuple[str, object]) -> None:
        health, payload = result
        st = track.status
        was_up = st.health == "up"
        st.health, st.polled_at = health, now
        if health != "up":
            st.error = str(payload or "")
            st.ingress_rate = st.egress_rate = None
            st.dropped_rates = {}
            track.prev = None
            return
        st.error = ""
        if not isinstance(payload, list):  # probed, not scraped
            if not was_up and not st.uptime_exact:
                st.started_at = now
            return
        flow = prom_scrape.flow_of(payload)
        self._record_series(st.target.name, now, payload)
        self._uptime(st, flow, now, was_up)
        if track.prev is not None:
            t0, before = track.prev
            dt = max(now - t0, 1e-6)
            restarted = False
            st.ingress_rate, r1 = _rate(before.ingress, flow.ingress, dt)
            st.egress_rate, r2 = _rate(before.egress, flow.egress, dt)
            rates = {}
            for direction, total in flow.dropped.items():
                rates[direction], r3 = _rate(before.dropped.get(direction, 0.0), total, dt)
                restarted |= r3
            restarted |= r1 or r2
            st.dropped_rates = {d: r for d, r in rates.items() if r is not None}
            if restarted:
                st.restarts += 1
                if not st.uptime_exact:
                    st.started_at = now
            track.ingress.append(st.ingress_rate or 0.0)
            track.egress.append(st.egress_rate or 0.0)
            track.dropped.append(st.dropped_rate)
            st.ingress_history, st.egress_history = list(track.ingress), list(track.egress)
            st.dropped_history = list(track.dropped)
        st.dropped_totals = dict(flow.dropped)
        track.prev = (now, flow)

    def _uptime(self, st: ComponentStatus, flow: prom_scrape.Flow, now: float, was_up: bool) -> None:
        if flow.start_time is not None:
            st.started_at, st.uptime_exact = flow.start_time, True
            return
        if st.target.pid:
            start = process_start(st.target.pid)
            if start is not None:
                st.started_at, st.uptime_exact = start, True
                return
        if not was_up or st.started_at is None:
            st.started_at, st.uptime_exact = now, False

    def _record_series(self, origin: str, now: float, samples: list[prom_scrape.Sample]) -> None:
        for s in samples:
            if s.kind in ("counter", "gauge"):
                self.series.get(SeriesKey(origin, s.kind, s.key, "scrape")).add(now, s.value)


def _rate(before: float | None, after: float | None, dt: float) -> tuple[float | None, bool]:
    """(per-second rate, restarted?) between two totals."""
    if after is None:
        return None, False
    if before is None:
        return 0.0, False
    if after < before:
        return after / dt, True
    return (after - before) / dt, False


def _reason(exc: BaseException, url: str) -> str:
    if isinstance(exc, prom_scrape.ScrapeError):
        return str(exc)
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    if isinstance(exc, ConnectionRefusedError):
        text = "connection refused"
    elif isinstance(exc, TimeoutError):
        text = "timed out"
    return f"{url}: {text}"


def process_start(pid: int) -> float | None:
    """Unix start time of local process ``pid`` (Linux /proc), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        with open("/proc/stat", "rb") as f:
            btime = next(int(line.split()[1]) for line in f if line.startswith(b"btime"))
        return btime + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None
