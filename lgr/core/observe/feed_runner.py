"""Feed runner: reads a stream source into a FirehoseFeed on a background thread, never giving up.

The thread runs its own asyncio loop, so parsing and counting stay off the UI's loop. A
:class:`StreamSource` opens the stream (the rlp's BatchedReceiver, or the gateway's
``/v2/read``, each through its shared client in lgr.core.clients); when it fails or ends, the
runner says why in the feed's :class:`ConnectionStatus` and opens it again with capped exponential
backoff — forever, because a dashboard should come back by itself when the system does. The
clients' stream events (interruptions and resumptions within a stream, the rlp's drop reports)
update the status and the feed's drop count (envelopes skipped as not parsing count there too).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Protocol

from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.clients.egress import EnvelopesDropped
from lgr.core.clients.reconnect import Interruption, StreamResumed
from lgr.core.errors import LgrError
from lgr.core.observe.connection_status import (
    CONNECTED,
    CONNECTING,
    RETRYING,
    STOPPED,
    ConnectionStatus,
)
from lgr.core.observe.firehose_feed import FirehoseFeed
from lgr.core.salvage import EnvelopesMalformed

Batch = Sequence[envelope_pb2.Envelope]
_NO_ANSWER = "cannot reach"


class StreamSource(Protocol):
    """Where envelopes come from. ``open`` yields batches until the stream ends or fails;
    ``on_event`` gets its client's stream events."""

    what: str  # e.g. "the reverse log proxy at 127.0.0.1:8083"

    def open(self, on_event: Callable[[object], None]) -> AsyncIterator[Batch]: ...

    def reachable(self) -> bool:
        """Blocking probe: does the server accept a connection now? (run on a worker thread)"""
        ...


class FeedRunner:
    """Runs ``source`` into ``feed``; ``start()`` spawns the thread, ``stop()`` ends it."""

    def __init__(self, feed: FirehoseFeed, source: StreamSource, *,
                 backoff: tuple[float, float] = (0.5, 5.0), probe_every: float = 1.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.feed = feed
        self.source = source
        self.backoff = backoff
        self.probe_every = probe_every
        self._clock = clock
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = threading.Event()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._main, name="lgr-feed", daemon=True)
            self._thread.start()
            self._ready.wait(5)

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel the stream and wait for the thread (idempotent)."""
        if self._thread is None:
            return
        if self._loop is not None and self._task is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(timeout)
        self._thread = None
        self.feed.set_status(ConnectionStatus(STOPPED, "stopped", self._clock()))

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._task = loop.create_task(self.run())
        self._ready.set()
        try:
            loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def run(self) -> None:
        """Stream until cancelled, reconnecting; usable on any loop."""
        attempt = 0
        self._set(CONNECTING, f"connecting to {self.source.what}")
        while True:
            prober = asyncio.ensure_future(self._probe())
            try:
                async with contextlib.aclosing(self.source.open(self._on_event)) as batches:
                    async for batch in batches:
                        if self.feed.status.state != CONNECTED:
                            attempt = 0
                            self._set(CONNECTED, f"streaming from {self.source.what}")
                        self.feed.ingest(batch)
                reason = f"{self.source.what} ended the stream"
            except asyncio.CancelledError:
                raise
            except LgrError as exc:
                reason = exc.message + (f" ({exc.hint})" if exc.hint else "")
            except Exception as exc:  # noqa: BLE001 - whatever broke, say it and retry
                reason = f"{type(exc).__name__}: {exc}"
            finally:
                prober.cancel()
            attempt += 1
            delay = min(self.backoff[0] * 2 ** (attempt - 1), self.backoff[1])
            self._set(RETRYING, f"{reason}; retrying in {delay:.1f}s", attempt)
            await asyncio.sleep(delay)

    async def _probe(self) -> None:
        # A quiet firehose sends nothing: say "connected" once the server accepts us anyway;
        # and say at once when nothing accepts us, rather than after the stream's own timeout.
        failures = 0
        while self.feed.status.state != CONNECTED:
            if await asyncio.to_thread(self.source.reachable):
                if self.feed.status.state != CONNECTED:
                    self._set(CONNECTED, f"streaming from {self.source.what}")
                return
            failures += 1
            if self.feed.status.state == CONNECTING or (
                    self.feed.status.state == RETRYING and self.feed.status.message.startswith(_NO_ANSWER)):
                self._set(RETRYING, f"{_NO_ANSWER} {self.source.what}: no TLS handshake there "
                          "(is it running? are the certificates from its CA?); still trying", failures)
            await asyncio.sleep(self.probe_every)

    def _on_event(self, event: object) -> None:
        if isinstance(event, EnvelopesDropped | EnvelopesMalformed):
            # Either way the stream lost them: the dashboard shows them among its drops.
            self.feed.note_stream_dropped(event.delta)
        elif isinstance(event, Interruption):
            self._set(RETRYING, f"the stream from {self.source.what} broke ({event.reason}); "
                      f"reconnecting in {event.retry_in:.1f}s", event.attempt)
        elif isinstance(event, StreamResumed):
            self._set(CONNECTED, f"streaming from {self.source.what} (back after {event.outage:.1f}s)")

    def _set(self, state: str, message: str, attempt: int = 0) -> None:
        now, before = self._clock(), self.feed.status
        # ``since`` of a retry is when the outage began, so the UI can say how long it has lasted.
        outage_goes_on = state == RETRYING and before.state in (RETRYING, CONNECTING)
        self.feed.set_status(ConnectionStatus(state, message, before.since if outage_goes_on else now,
                                              attempt))
