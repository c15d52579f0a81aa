"""RateLimitedLog: one line per key per interval, the next says how many were suppressed."""

from __future__ import annotations

import logging

from lgr.core.log_limit import RateLimitedLog


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_repeats_within_the_interval_are_suppressed_and_then_reported(caplog):
    clock = Clock()
    limited = RateLimitedLog(logging.getLogger("lgr.test.limit"), interval=10, clock=clock)
    with caplog.at_level(logging.WARNING, logger="lgr.test.limit"):
        assert limited.warning("host-a", "cannot resolve %s", "a") is True
        for _ in range(7):
            clock.now += 1
            assert limited.warning("host-a", "cannot resolve %s", "a") is False
        assert limited.warning("host-b", "cannot resolve %s", "b") is True  # another key
        clock.now += 3  # 10 s after the first line
        assert limited.warning("host-a", "cannot resolve %s", "a") is True
    assert [r.getMessage() for r in caplog.records] == [
        "cannot resolve a", "cannot resolve b", "cannot resolve a (7 more suppressed)"]
