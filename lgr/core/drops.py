"""Drops: accounting for envelopes dropped on a hop, and telling a consumer its stream lost some.

:class:`DropTracker` is what a diode's ``on_drop`` calls: it adds to the component-wide
``dropped{direction=...}`` counter, keeps the count of one stream or subscription, and logs the
loss at most every :data:`LOG_INTERVAL` seconds, as upstream logs "Dropped N envelopes" per alert
without flooding the log when a consumer stalls.

Drop reports (lgr extension). Upstream's RLP only counts a consumer's drops in its own metrics,
which the consumer cannot see. An lgr consumer may opt in by sending the request metadata
``lgr-drop-reports: 1`` on Receiver / BatchedReceiver; the lgr RLP then puts a Counter envelope
in that stream, ahead of the envelopes that follow a loss::

    source_id  the RLP's metric source id ("reverse_log_proxy")
    counter    name "dropped", delta = envelopes lost since the previous report,
               total = envelopes lost by this stream so far
    tags       direction: egress, lgr_drop_report: stream

Without the metadata nothing is added, so upstream clients (which never send it) get exactly
upstream's stream, and a report can never surprise a client that did not ask for one. An lgr
client talking to an upstream RLP simply gets no reports.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from lgr.core._proto.loggregator.v2 import envelope_pb2

REPORT_METADATA_KEY = "lgr-drop-reports"
REPORT_METADATA = ((REPORT_METADATA_KEY, "1"),)
REPORT_TAG = "lgr_drop_report"
REPORT_COUNTER_NAME = "dropped"
LOG_INTERVAL = 10.0  # seconds between log lines about one stream's drops

_log = logging.getLogger("lgr.drops")


class DropTracker:
    """Counts drops of one stream into its own total and the shared counters; logs them sparingly.

    ``counters`` are metric counters with an ``inc(n)`` (e.g. ``dropped{direction="egress"}``).
    ``what`` names the stream in log lines, e.g. ``"subscription 3 (shard_id 'a')"``.
    """

    __slots__ = ("total", "what", "_counters", "_logged", "_last_log", "_clock")

    def __init__(self, what: str, counters: Sequence[object],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total = 0
        self.what = what
        self._counters = tuple(counters)
        self._logged = 0
        self._last_log = float("-inf")
        self._clock = clock

    def __call__(self, n: int) -> None:
        """Record ``n`` more dropped envelopes (the diode's ``on_drop``)."""
        self.total += n
        for counter in self._counters:
            counter.inc(n)  # type: ignore[attr-defined]
        now = self._clock()
        if now - self._last_log >= LOG_INTERVAL:
            _log.warning("Dropped %d envelopes: %s (%d in all)",
                         self.total - self._logged, self.what, self.total)
            self._logged, self._last_log = self.total, now


def wants_reports(metadata: Sequence[tuple[str, str | bytes]] | None) -> bool:
    """True when request ``metadata`` opts in to drop reports."""
    for key, value in metadata or ():
        if key.lower() == REPORT_METADATA_KEY:
            return value in ("1", b"1", "true", b"true")
    return False


def report(source_id: str, delta: int, total: int, preferred_tags: bool = True,
           timestamp: int | None = None) -> envelope_pb2.Envelope:
    """The Counter envelope telling a consumer its stream lost ``delta`` (``total`` in all).

    With ``preferred_tags`` False the tags go in ``deprecated_tags``, as the consumer's other
    envelopes do.
    """
    env = envelope_pb2.Envelope(
        timestamp=time.time_ns() if timestamp is None else timestamp, source_id=source_id
    )
    env.counter.name = REPORT_COUNTER_NAME
    env.counter.delta = delta
    env.counter.total = total
    tags = {"direction": "egress", REPORT_TAG: "stream"}
    if preferred_tags:
        env.tags.update(tags)
    else:
        for key, value in tags.items():
            env.deprecated_tags[key].text = value
    return env


def is_report(env: envelope_pb2.Envelope) -> bool:
    """True when ``env`` is a drop report made by :func:`report`."""
    if env.WhichOneof("message") != "counter" or env.counter.name != REPORT_COUNTER_NAME:
        return False
    if env.tags.get(REPORT_TAG) == "stream":
        return True
    value = env.deprecated_tags.get(REPORT_TAG)
    return value is not None and value.text == "stream"
