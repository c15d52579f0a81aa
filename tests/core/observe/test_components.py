"""ComponentWatcher: rates from successive scrapes, restarts, health with reasons, uptime, series."""

from __future__ import annotations

import os
import time

from lgr.core.observe.components import ComponentWatcher, process_start
from lgr.core.observe.series import SeriesKey
from lgr.core.observe.targets import Target
from tests.tui.support import T0, FakeClock

ROUTER = Target("router", "router", "https://127.0.0.1:1/metrics")


class Totals:
    """Serves the totals it is set to, as Prometheus text."""

    def __init__(self) -> None:
        self.ingress, self.egress, self.dropped = 0, 0, {}
        self.extra = ""
        self.error: Exception | None = None

    def __call__(self, url: str) -> str:
        if self.error:
            raise self.error
        drops = "".join(f'dropped{{direction="{d}"}} {n}\n' for d, n in self.dropped.items())
        return f"# TYPE ingress counter\ningress {self.ingress}\negress {self.egress}\n{drops}{self.extra}"


def test_rates_drops_and_history_from_successive_scrapes():
    clock, totals = FakeClock(), Totals()
    watcher = ComponentWatcher([ROUTER], totals, clock=clock, history=3)
    watcher.poll_once()
    first = watcher.statuses()[0]
    assert first.health == "up" and first.ingress_rate is None and first.ingress_history == []
    for step in range(1, 5):
        clock.advance(2.0)
        totals.ingress, totals.egress = step * 200, step * 190
        totals.dropped = {"ingress": step * 4}
        watcher.poll_once()
    status = watcher.statuses()[0]
    assert (status.ingress_rate, status.egress_rate) == (100.0, 95.0)
    assert status.dropped_rates == {"ingress": 2.0} and status.dropped_totals == {"ingress": 16}
    assert status.ingress_history == [100.0] * 3  # bounded by ``history``
    series = watcher.series.find(SeriesKey("router", "counter", "ingress", "scrape"))
    assert series.values() == [100.0] * 4


def test_a_falling_total_is_a_restart():
    clock, totals = FakeClock(), Totals()
    totals.ingress = 1000
    watcher = ComponentWatcher([ROUTER], totals, clock=clock)
    watcher.poll_once()
    clock.advance(1.0)
    totals.ingress = 30
    watcher.poll_once()
    status = watcher.statuses()[0]
    assert status.ingress_rate == 30.0 and status.restarts == 1
    assert status.started_at == clock.now and not status.uptime_exact


def test_down_with_the_reason_then_up_again():
    clock, totals = FakeClock(), Totals()
    totals.error = ConnectionRefusedError(111, "Connection refused")
    watcher = ComponentWatcher([ROUTER], totals, clock=clock)
    watcher.poll_once()
    status = watcher.statuses()[0]
    assert status.health == "down" and status.error == "https://127.0.0.1:1/metrics: connection refused"
    assert status.uptime(clock.now) is None
    totals.error = TimeoutError()
    watcher.poll_once()
    assert watcher.statuses()[0].error.endswith("timed out")
    totals.error = None
    clock.advance(5)
    watcher.poll_once()
    status = watcher.statuses()[0]
    assert status.health == "up" and status.error == "" and status.uptime(clock.now + 7) == 7


def test_uptime_from_the_start_time_metric_or_the_local_process():
    clock, totals = FakeClock(), Totals()
    totals.extra = f"process_start_time_seconds {T0 - 90}\n"
    mine = Target("me", "agent", "https://127.0.0.1:2/metrics", pid=os.getpid())
    watcher = ComponentWatcher([ROUTER, mine], totals, clock=clock)
    watcher.poll_once()
    router, me = watcher.statuses()
    assert router.uptime(clock.now) == 90 and router.uptime_exact
    totals.extra = ""
    watcher = ComponentWatcher([mine], totals, clock=clock)
    watcher.poll_once()
    started = process_start(os.getpid())
    assert started is not None and abs(started - time.time()) < 24 * 3600
    assert watcher.statuses()[0].started_at == started and watcher.statuses()[0].uptime_exact
    assert process_start(2**22 + 12345) is None


def test_targets_without_metrics_are_probed():
    seen = []
    probe = lambda target: seen.append(target.name) or target.name == "rlp"  # noqa: E731
    targets = [Target("rlp", "rlp", address="127.0.0.1:1"), Target("router", "router", address="127.0.0.1:2"),
               Target("cache", "cache")]
    watcher = ComponentWatcher(targets, Totals(), probe)
    watcher.poll_once()
    assert [s.health for s in watcher.statuses()] == ["up", "down", "unknown"]
    assert sorted(seen) == ["rlp", "router"]


def test_polls_on_its_own_thread_until_stopped():
    totals = Totals()
    watcher = ComponentWatcher([ROUTER], totals, interval=0.01)
    watcher.start()
    try:
        deadline = time.monotonic() + 5
        while watcher.statuses()[0].ingress_rate is None and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        watcher.stop()
    assert watcher.statuses()[0].ingress_rate == 0.0
