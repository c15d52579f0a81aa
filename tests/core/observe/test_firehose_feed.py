"""FirehoseFeed: counts per source and type, rates, display sampling, filters, drops, bounds."""

from __future__ import annotations

import threading

from lgr.core import envelope
from lgr.core.observe.connection_status import INJECTED
from lgr.core.observe.envelope_filter import make_filter
from lgr.core.observe.firehose_feed import OTHER_SOURCES, FirehoseFeed
from lgr.core.observe.series import SeriesKey
from tests.tui.support import FakeClock, sample_envelopes


def logs(n: int, source_id: str = "app", text: str = "line") -> list:
    return [envelope.log(f"{text} {i}", source_id=source_id, timestamp=i + 1) for i in range(n)]


def test_counts_per_source_and_type_and_rates_over_the_window():
    clock = FakeClock()
    feed = FirehoseFeed(clock=clock, window=5)
    for second in range(5):
        feed.ingest(sample_envelopes(second))
        clock.advance()
    snap = feed.snapshot()
    assert snap.total == 5 * len(sample_envelopes())
    assert snap.by_kind == {"log": 40, "counter": 10, "gauge": 5, "timer": 5, "event": 5}
    assert [s.source_id for s in snap.sources] == ["checkout", "search", "payments", "metron"]
    checkout = snap.sources[0]
    assert (checkout.rate, checkout.total, checkout.by_kind["log"]) == (7.0, 35, 30)
    assert snap.rate == 13.0 and snap.rate_history == [13.0] * 5
    assert snap.status.state == INJECTED
    clock.advance(3)  # a quiet stretch lowers the rates
    snap = feed.snapshot()
    assert snap.sources[0].rate == 7 * 2 / 5 and snap.rate_history[-3:] == [0, 0, 0]


def test_drops_are_attributed_to_the_source_that_reports_them_and_the_stream_apart():
    feed = FirehoseFeed()
    feed.ingest([envelope.counter("dropped", delta=4, total=4, source_id="doppler",
                                  tags={"direction": "egress"}),
                 envelope.counter("dropped", delta=1, total=1, source_id="doppler")])
    feed.note_stream_dropped(7)
    snap = feed.snapshot()
    assert snap.sources[0].dropped == {"egress": 4, "unknown": 1}
    assert snap.sources[0].dropped_total == 5 and snap.stream_dropped == 7


def test_counters_and_gauges_become_series():
    clock = FakeClock()
    feed = FirehoseFeed(clock=clock)
    for second in range(3):
        feed.ingest(sample_envelopes(second))
        clock.advance()
    requests = feed.series.find(SeriesKey("checkout", "counter", "requests"))
    assert [v for _, v in requests.snapshot()] == [100, 110, 120] and requests.values() == [10, 10]
    cpu = feed.series.find(SeriesKey("payments", "gauge", "cpu"))
    assert cpu.values() == [20, 25, 30] and cpu.unit == "percentage"


def test_take_returns_what_passed_the_filter_and_counts_what_it_skipped():
    feed = FirehoseFeed(pending_max=50)
    feed.ingest(logs(30, "a") + logs(30, "b"))
    envs, skipped = feed.take(limit=20)
    assert len(envs) == 20 and skipped == 40  # 10 overflowed the queue, 30 past the limit
    assert envs[-1].log.payload == b"line 29"
    feed.set_filter(make_filter(source_ids=["b"]))
    feed.ingest(logs(3, "a") + logs(3, "b"))
    envs, skipped = feed.take(limit=100)
    assert [e.source_id for e in envs] == ["b"] * 3 and skipped == 0


def test_a_new_filter_is_backfilled_from_the_recent_sample():
    feed = FirehoseFeed()
    feed.ingest(logs(10, "a", "hello") + logs(10, "b", "world"))
    backfill = feed.set_filter(make_filter(regex="world [3-5]"), backfill=2)
    assert [e.log.payload for e in backfill] == [b"world 4", b"world 5"]
    assert feed.take(10) == ([], 0)


def test_pause_stops_display_not_counting():
    feed = FirehoseFeed()
    feed.set_paused(True)
    feed.ingest(logs(5))
    assert feed.take(10) == ([], 0) and feed.snapshot().total == 5
    feed.set_paused(False)
    feed.ingest(logs(1))
    assert len(feed.take(10)[0]) == 1


def test_fast_streams_are_sampled_for_the_regex_and_memory_stays_bounded():
    clock = FakeClock()
    feed = FirehoseFeed(clock=clock, ring_size=300, pending_max=100, examine_budget=1000,
                        max_sources=50, history=15)
    feed.set_filter(make_filter(regex="line"))
    batch = logs(1000)
    for second in range(20):
        for chunk in range(10):  # 10k envelopes a second, from ever new sources
            for env in batch[:3]:
                env.source_id = f"app-{second}-{chunk % 5}"
            feed.ingest(batch)
        clock.advance()
    snap = feed.snapshot()
    sizes = feed.sizes()
    assert snap.total == 200_000
    assert sizes == {"recent": 300, "pending": 100, "sources": 51, "history": 15, "series": 0}
    assert snap.sample_every == 10  # 10k a second over a budget of 1000 regex checks
    assert snap.source_count == 51 and OTHER_SOURCES in {s.source_id for s in snap.sources}
    assert feed.take(1000)[1] > 0  # the UI was told how much it skipped


def test_ingest_is_safe_from_several_threads():
    feed = FirehoseFeed()
    threads = [threading.Thread(target=lambda: [feed.ingest(logs(100)) for _ in range(50)])
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert feed.snapshot().total == 4 * 50 * 100


def test_filters_match_source_patterns_types_names_and_regex():
    envs = sample_envelopes()
    def shown(**kw):
        flt = make_filter(**kw)
        return [e for e in envs if flt(e)]
    assert {e.source_id for e in shown(source_ids=["pay*", "search"])} == {"payments", "search"}
    assert [e.WhichOneof("message") for e in shown(kinds=["timer", "event"])] == ["timer", "event"]
    assert [e.event.title for e in shown(name="DEPLOY")] == ["deployed"]
    assert len(shown(regex=r"ERR payment")) == 1
    assert make_filter().empty
    assert make_filter(["a"], ["log"], "x", "y+").describe() == "source a · type log · name ~ x · /y+/"
    for bad in ({"kinds": ["metric"]}, {"regex": "("}):
        try:
            make_filter(**bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad} was accepted")
