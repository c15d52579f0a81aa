"""Drop accounting and the opt-in drop reports an lgr RLP sends its consumers."""

from __future__ import annotations

import logging

from lgr.core import drops
from lgr.core.metrics import Registry


def test_a_tracker_counts_everywhere_and_logs_sparingly(caplog):
    registry = Registry()
    counter = registry.counter("dropped", "d", labels={"direction": "egress"})
    now = [0.0]
    tracker = drops.DropTracker("stream 1", [counter], clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="lgr.drops"):
        tracker(3)
        tracker(4)
        now[0] = drops.LOG_INTERVAL
        tracker(5)
    assert tracker.total == 12 and counter.value == 12
    assert [r.getMessage() for r in caplog.records] == [
        "Dropped 3 envelopes: stream 1 (3 in all)", "Dropped 9 envelopes: stream 1 (12 in all)"]


def test_reports_are_asked_for_by_metadata():
    assert drops.wants_reports(drops.REPORT_METADATA)
    assert drops.wants_reports([("LGR-DROP-REPORTS", b"1")])
    assert not drops.wants_reports([("other", "1")])
    assert not drops.wants_reports(None)


def test_a_report_is_recognised_with_either_tag_style():
    for preferred in (True, False):
        env = drops.report("reverse_log_proxy", 5, 9, preferred_tags=preferred, timestamp=1)
        assert drops.is_report(env)
        assert (env.counter.name, env.counter.delta, env.counter.total) == ("dropped", 5, 9)
        assert bool(env.tags) is preferred and bool(env.deprecated_tags) is not preferred
    plain = drops.report("x", 1, 1)
    plain.tags.clear()
    assert not drops.is_report(plain)
