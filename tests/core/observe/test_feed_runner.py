"""FeedRunner: streams a source into the feed on its own thread; says why it cannot, and retries."""

from __future__ import annotations

import asyncio
import threading

from lgr.core import envelope
from lgr.core.clients import gateway
from lgr.core.clients.egress import EnvelopesDropped, StreamInterrupted, StreamResumed
from lgr.core.errors import UnavailableError
from lgr.core.observe.connection_status import CONNECTED, RETRYING, STOPPED
from lgr.core.observe.feed_runner import FeedRunner
from lgr.core.observe.firehose_feed import FirehoseFeed
from lgr.core.salvage import EnvelopesMalformed
from tests.conftest import wait_until


class ScriptedSource:
    """Fails ``failures`` times, then streams ``batches`` and waits until ``release`` is set."""

    what = "the scripted rlp"

    def __init__(self, failures: int, batches: list) -> None:
        self.failures = failures
        self.batches = batches
        self.opened = 0
        self.up = False
        self.release = threading.Event()
        self.events: list = []

    async def open(self, on_event):
        self.opened += 1
        if self.opened <= self.failures:
            raise UnavailableError("cannot reach the scripted rlp: connection refused",
                                   hint="start it")
        for event in self.events:
            on_event(event)
        for batch in self.batches:
            yield batch
        while not self.release.is_set():
            await asyncio.sleep(0.01)

    def reachable(self) -> bool:
        return self.up


def test_retries_with_the_reason_until_the_stream_opens():
    feed = FirehoseFeed()
    source = ScriptedSource(3, [[envelope.log("a")], [envelope.log("b"), envelope.log("c")]])
    source.events = [EnvelopesDropped(5, 5)]
    runner = FeedRunner(feed, source, backoff=(0.05, 0.1), probe_every=0.01)
    runner.start()
    try:
        status = wait_until(lambda: feed.status.state == RETRYING and feed.status.attempt >= 2
                            and feed.status)
        assert "cannot reach the scripted rlp: connection refused (start it); retrying in" in status.message
        first_failure = status.since
        wait_until(lambda: feed.snapshot().total == 3)
        assert feed.status.state == CONNECTED
        assert feed.status.message == "streaming from the scripted rlp"
        assert feed.snapshot().stream_dropped == 5
        assert source.opened == 4 and first_failure <= feed.status.since
    finally:
        runner.stop()
    assert feed.status.state == STOPPED


def test_a_reachable_but_quiet_server_counts_as_connected():
    feed = FirehoseFeed()
    source = ScriptedSource(0, [])
    runner = FeedRunner(feed, source, probe_every=0.01)
    runner.start()
    try:
        status = wait_until(lambda: feed.status.state == RETRYING and feed.status)
        assert status.message.startswith("cannot reach the scripted rlp: no TLS handshake there")
        source.up = True
        wait_until(lambda: feed.status.state == CONNECTED)
    finally:
        runner.stop()


def test_stream_events_update_the_status():
    feed = FirehoseFeed()
    source = ScriptedSource(0, [[envelope.log("x")]])
    runner = FeedRunner(feed, source)
    runner._on_event(StreamInterrupted("UNAVAILABLE", "router gone", 2, 0.4))
    assert feed.status.state == RETRYING and "broke (UNAVAILABLE: router gone)" in feed.status.message
    assert feed.status.attempt == 2
    runner._on_event(StreamResumed(1.25))
    assert feed.status.state == CONNECTED and "(back after 1.2s)" in feed.status.message
    # The gateway's client reports its outages the same way.
    runner._on_event(gateway.StreamInterrupted("no data or heartbeat in time", 3, 0.8))
    assert feed.status.message == ("the stream from the scripted rlp broke (no data or heartbeat in "
                                   "time); reconnecting in 0.8s")
    assert feed.status.state == RETRYING and feed.status.attempt == 3
    runner._on_event(gateway.StreamResumed(2.0))
    assert feed.status.state == CONNECTED


def test_an_ended_stream_is_reopened():
    feed = FirehoseFeed()
    source = ScriptedSource(0, [[envelope.log("x")]])
    source.release.set()  # each stream ends right after its batch
    runner = FeedRunner(feed, source, backoff=(0.01, 0.01))
    runner.start()
    try:
        wait_until(lambda: feed.snapshot().total >= 3)
    finally:
        runner.stop()
    assert source.opened >= 3


def test_envelopes_skipped_as_not_parsing_count_among_the_feeds_drops():
    feed = FirehoseFeed()
    runner = FeedRunner(feed, ScriptedSource(0, []))
    runner._on_event(EnvelopesMalformed(2, 2))
    runner._on_event(EnvelopesDropped(3, 3))
    assert feed.snapshot().stream_dropped == 5
