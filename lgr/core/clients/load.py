"""Load: drives an IngressClient with envelopes made from a sequence, at an optional steady rate.

`lgr emit --count N --rate R` and `lgr emit log -` are this loop: items (numbers, or lines read
from a file descriptor) go through ``make`` into :meth:`IngressClient.send`, which waits for
buffer room, so a fast producer is slowed to the agent's pace instead of losing envelopes.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.clients.ingress import IngressClient


@dataclass
class LoadRun:
    """When the first envelope was queued and when the last was flushed (monotonic seconds)."""

    started: float | None = None
    finished: float | None = None

    def elapsed(self) -> float:
        """Seconds from the first envelope to the flush (or to now, while running)."""
        if self.started is None:
            return 0.0
        return (self.finished or time.monotonic()) - self.started


async def send_all(
    client: IngressClient,
    items: AsyncIterable[Any],
    make: Callable[[Any], envelope_pb2.Envelope | bytes],
    rate: float | None = None,
    run: LoadRun | None = None,
    flush_timeout: float | None = None,
) -> LoadRun:
    """Send ``make(item)`` for every item, at most ``rate`` per second, then flush (waiting at
    most ``flush_timeout`` seconds for an agent that has gone away to come back)."""
    run = run or LoadRun()
    start = run.started = time.monotonic()
    sent = 0
    async for item in items:
        if rate:
            ahead = start + sent / rate - time.monotonic()
            if ahead > 0.001:  # finer sleeps cost more than they pace
                await asyncio.sleep(ahead)
        await client.send(make(item))
        sent += 1
        if sent % 100 == 0:
            await asyncio.sleep(0)  # let the sender task (and any progress display) run
    await client.flush(flush_timeout)
    run.finished = time.monotonic()
    return run


async def numbers(n: int) -> AsyncIterator[int]:
    """0 .. n-1, as an async iterator for :func:`send_all`."""
    for i in range(n):
        yield i


async def lines(fd: int) -> AsyncIterator[bytes]:
    """Each line read from ``fd`` as bytes, without "\\n" or "\\r\\n"; the last may lack an ending.

    Reads happen in a worker thread, so a slow or interactive input never blocks the loop, and
    a line is yielded as soon as it is complete.
    """
    loop = asyncio.get_running_loop()
    pending = b""
    while True:
        chunk = await loop.run_in_executor(None, os.read, fd, 1 << 16)
        if not chunk:
            break
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line[:-1] if line.endswith(b"\r") else line
    if pending:
        yield pending
