"""Diode: a bounded buffer that never blocks its writer, drops the oldest item, and counts drops.

Named after go-diodes' ManyToOne diode, which upstream puts on every hop. Writers may be other
threads (the agent's UDP receive loop) or coroutines; readers take items in batches. Every
operation holds a lock for a few hundred nanoseconds at most, so the writer never waits on the
reader. Readers on an asyncio loop use :meth:`Diode.wait` to sleep until data arrives.

Beside its count bound a diode may have a byte bound (``max_bytes``): items of serialized
envelopes vary from a few bytes to 10 MiB, so a count alone lets a few hundred large envelopes
take gigabytes while a peer is away. Writers drop the oldest until both bounds hold; an item
larger than the whole byte bound is dropped too. Drops by either bound are counted alike.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class Diode(Generic[T]):
    """A drop-oldest ring buffer of at most ``size`` items and ``max_bytes`` bytes.

    ``on_drop(n)`` is called (outside the lock) whenever ``n`` items are overwritten, so the
    owner can count them in its metrics and say where they were dropped. ``size_of(item)`` gives
    an item's bytes (default ``len``: items are bytes); ``max_bytes=None`` bounds by count only.
    """

    def __init__(self, size: int, on_drop: Callable[[int], None] | None = None, *,
                 max_bytes: int | None = None, size_of: Callable[[T], int] = len) -> None:  # type: ignore[assignment]
        if size < 1:
            raise ValueError("diode size must be at least 1")
        if max_bytes is not None and max_bytes < 1:
            raise ValueError("diode max_bytes must be at least 1")
        self.size = size
        self.max_bytes = max_bytes
        self.bytes = 0  # bytes of the items held (kept only with a byte bound)
        self._size_of = size_of
        self._buf: deque[T] = deque()
        self._lock = threading.Lock()
        self._on_drop = on_drop
        self.dropped = 0
        self.written = 0
        self._waiter: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __len__(self) -> int:
        return len(self._buf)

    def put(self, item: T) -> None:
        """Add one item; when full, the oldest item is dropped and counted."""
        dropped = 0
        with self._lock:
            buf = self._buf
            limit = self.max_bytes
            if limit is not None:
                self.bytes += self._size_of(item)
                buf.append(item)
                if self.bytes > limit or len(buf) > self.size:
                    dropped = self._shed()
            else:
                if len(buf) >= self.size:
                    buf.popleft()
                    dropped = 1
                buf.append(item)
            self.written += 1
            self.dropped += dropped
        if dropped and self._on_drop is not None:
            self._on_drop(dropped)
        if self._waiter is not None:
            self._wake()

    def put_many(self, items: Iterable[T]) -> None:
        """Add several items at once; overflow drops the oldest, as with put."""
        items = list(items)
        if not items:
            return
        with self._lock:
            buf = self._buf
            buf.extend(items)
            limit = self.max_bytes
            if limit is not None:
                self.bytes += sum(map(self._size_of, items))
                over = self._shed() if self.bytes > limit or len(buf) > self.size else 0
            else:
                over = len(buf) - self.size
                for _ in range(over):
                    buf.popleft()
            if over > 0:
                self.dropped += over
            self.written += len(items)
        if over > 0 and self._on_drop is not None:
            self._on_drop(over)
        if self._waiter is not None:
            self._wake()

    def take(self, max_items: int) -> list[T]:
        """Remove and return up to ``max_items`` of the oldest items (possibly none)."""
        with self._lock:
            buf = self._buf
            n = min(max_items, len(buf))
            if n == len(buf):
                out = list(buf)
                buf.clear()
                self.bytes = 0
                return out
            out = [buf.popleft() for _ in range(n)]
            if self.max_bytes is not None:
                self.bytes -= sum(map(self._size_of, out))
            return out

    def _shed(self) -> int:
        """Drop the oldest items until both bounds hold; return how many (the lock is held)."""
        buf, size_of, limit = self._buf, self._size_of, self.max_bytes
        over = 0
        while len(buf) > self.size or (self.bytes > limit and buf):  # type: ignore[operator]
            self.bytes -= size_of(buf.popleft())
            over += 1
        return over

    async def wait(self, timeout: float | None = None) -> bool:
        """Sleep until the diode holds an item or ``timeout`` passes; True if data is ready.

        Only one coroutine may wait at a time (a diode has one reader). A put resolves the very
        future the reader awaits (no ``wait_for`` in between), so the reader runs on the next
        turn of the event loop.
        """
        if self._buf:
            return True
        loop = asyncio.get_running_loop()
        self._loop = loop
        fut: asyncio.Future[None] = loop.create_future()
        self._waiter = fut
        if self._buf:  # a put slipped in between the check and publishing the waiter
            self._waiter = None
            return True
        timer = loop.call_later(timeout, _resolve, fut) if timeout is not None else None
        try:
            await fut
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()
        return bool(self._buf)

    def _wake(self) -> None:
        # Clear the waiter first so a burst of puts schedules one wake-up, not one per put.
        fut, loop = self._waiter, self._loop
        self._waiter = None
        if fut is None or loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            if not fut.done():
                fut.set_result(None)
        else:
            loop.call_soon_threadsafe(_resolve, fut)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
