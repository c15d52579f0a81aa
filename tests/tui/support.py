"""Deterministic inputs for the dashboard's UI tests: a fake clock, envelopes, and metrics text."""

from __future__ import annotations

from lgr.core import envelope
from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.observe.components import ComponentWatcher
from lgr.core.observe.firehose_feed import FirehoseFeed
from lgr.core.observe.series import SeriesBook
from lgr.core.observe.targets import Target
from lgr.tui.app import DashboardApp

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z
SIZE = (130, 36)


class FakeClock:
    """Time that moves only when told to."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float = 1.0) -> None:
        self.now += seconds


def sample_envelopes(second: int = 0) -> list[envelope_pb2.Envelope]:
    """One second of a small, varied firehose: three apps' logs, a counter, a gauge, a timer, an event."""
    ts = int((T0 + second) * 1e9)
    envs = []
    for i in range(6):
        envs.append(envelope.log(f"GET /items/{second * 10 + i} 200", source_id="checkout",
                                 instance_id=str(i % 2), tags={"source_type": "APP/PROC/WEB"},
                                 timestamp=ts + i))
    envs.append(envelope.log("payment declined", source_id="payments", instance_id="0",
                             tags={"source_type": "APP/PROC/WEB"}, timestamp=ts + 7, type="ERR"))
    envs.append(envelope.log("search ok", source_id="search", timestamp=ts + 8,
                             tags={"source_type": "APP/PROC/WEB"}))
    envs.append(envelope.counter("requests", delta=10, total=100 + second * 10, source_id="checkout",
                                 timestamp=ts + 9))
    envs.append(envelope.gauge({"cpu": (20.0 + second * 5 % 30, "percentage")}, source_id="payments",
                               instance_id="0", timestamp=ts + 10))
    envs.append(envelope.timer("http", start=ts, stop=ts + 5_000_000, source_id="search",
                               timestamp=ts + 11))
    envs.append(envelope.event("deployed", "v42 rolled out", source_id="search", timestamp=ts + 12))
    envs.append(envelope.counter("dropped", delta=2, total=2 * (second + 1), source_id="metron",
                                 tags={"direction": "ingress"}, timestamp=ts + 13))
    return envs


class FakeMetrics:
    """Metrics text per URL that grows by fixed steps on every fetch (one fetch = one poll)."""

    def __init__(self) -> None:
        self.polls: dict[str, int] = {}
        self.down: set[str] = set()

    def __call__(self, url: str) -> str:
        if url in self.down:
            raise ConnectionRefusedError(111, "Connection refused")
        n = self.polls[url] = self.polls.get(url, 0) + 1
        drops = 'dropped{direction="egress"} %d\n' % (n * 5) if ":14826/" in url else ""
        return ("# TYPE ingress counter\ningress %d\n# TYPE egress counter\negress %d\n"
                "# TYPE dropped counter\n%s# TYPE subscriptions gauge\nsubscriptions 2\n"
                "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %d\n"
                % (n * 1000, n * 990, drops, T0 - 3725))


TARGETS = [
    Target("router", "router", "https://127.0.0.1:14825/metrics"),
    Target("agent", "agent", "https://127.0.0.1:14824/metrics"),
    Target("rlp", "rlp", "https://127.0.0.1:14826/metrics"),
    Target("gateway", "gateway", "https://127.0.0.1:14827/metrics"),
]


def make_app(seconds: int = 5, *, max_rows: int = 500, **kwargs) -> tuple[DashboardApp, FirehoseFeed,
                                                                         ComponentWatcher, FakeClock]:
    """An app over a feed that has seen ``seconds`` seconds of sample_envelopes, and a watcher
    polled as often; nothing runs in the background."""
    clock = FakeClock()
    book = SeriesBook()
    feed = FirehoseFeed(series=book, clock=clock)
    metrics = FakeMetrics()
    metrics.down.add(TARGETS[3].metrics_url)
    watcher = ComponentWatcher(TARGETS, metrics, series=book, clock=clock)
    for second in range(seconds):
        feed.ingest(sample_envelopes(second))
        watcher.poll_once()
        clock.advance(1.0)
    feed.snapshot()  # close the last second
    app = DashboardApp(feed, watcher, series=book, source_name="the test stream", clock=clock,
                       refresh=3600, max_rows=max_rows, start_background=False, **kwargs)
    return app, feed, watcher, clock


PER_SECOND = len(sample_envelopes())
