"""Reconnect: what the reconnecting stream clients (the rlp's and the gateway's) share.

:class:`Outage` keeps the backoff and the outage of one stream across reconnect attempts.
:class:`StreamResumed` is the event both report when a stream is back; their own
``StreamInterrupted`` events are :class:`Interruption` s, so a consumer such as the dashboard's
feed runner can show any client's outage without importing that client.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


class Interruption:
    """What every client's ``StreamInterrupted`` event has: ``reason`` (one line saying why the
    stream broke), ``attempt`` (of this outage) and ``retry_in`` (seconds until the next)."""

    __slots__ = ()
    reason: str
    attempt: int
    retry_in: float


@dataclass(frozen=True)
class StreamResumed:
    """The client reached the server again after ``outage`` seconds and reopened the stream."""

    outage: float


class Outage:
    """Backoff and outage bookkeeping across reconnect attempts."""

    def __init__(self) -> None:
        self.connected_once = False
        self.attempts = 0
        self.since: float | None = None
        self._delay = 0.0

    def begin(self, backoff: tuple[float, float]) -> float:
        """Record one more failed attempt; return the delay before the next (``backoff`` is the
        first and the largest delay; each attempt of an outage doubles it)."""
        if self.since is None:
            self.since = time.monotonic()
            self._delay = backoff[0]
        else:
            self._delay = min(self._delay * 2, backoff[1])
        self.attempts += 1
        return self._delay

    def end(self) -> float | None:
        """The server is reachable: return how long the outage lasted (None if there was none,
        or this is the first connection)."""
        first, self.connected_once = not self.connected_once, True
        if self.since is None:
            return None
        outage, self.since, self.attempts = time.monotonic() - self.since, None, 0
        return None if first else outage
