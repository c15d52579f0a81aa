"""Diode: drop-oldest buffering, drop counting, batch takes and the async wait for data."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from lgr.core.diode import Diode
from tests.conftest import wait_until


def test_size_must_be_positive():
    with pytest.raises(ValueError):
        Diode(0)


def test_fifo_without_drops():
    drops: list[int] = []
    diode = Diode[int](5, on_drop=drops.append)
    for i in range(5):
        diode.put(i)
    assert len(diode) == 5
    assert diode.take(3) == [0, 1, 2]
    assert diode.take(10) == [3, 4]
    assert diode.take(10) == []
    assert (diode.written, diode.dropped, drops) == (5, 0, [])


def test_put_drops_the_oldest_and_counts_each_drop():
    drops: list[int] = []
    diode = Diode[int](3, on_drop=drops.append)
    for i in range(10):
        diode.put(i)
    assert diode.take(10) == [7, 8, 9]
    assert diode.dropped == 7
    assert drops == [1] * 7
    assert diode.written == 10


def test_put_many_overflow_drops_the_oldest_at_once():
    drops: list[int] = []
    diode = Diode[int](5, on_drop=drops.append)
    diode.put_many([0, 1, 2])
    diode.put_many(iter([3, 4, 5, 6]))  # any iterable, consumed once
    assert drops == [2]
    assert diode.take(10) == [2, 3, 4, 5, 6]
    diode.put_many(range(12))  # more than the whole buffer: only the newest survive
    assert drops == [2, 7]
    assert diode.take(10) == [7, 8, 9, 10, 11]
    assert (diode.written, diode.dropped) == (19, 9)


def test_put_many_of_nothing_is_a_no_op():
    diode = Diode[int](2)
    diode.put_many([])
    assert (len(diode), diode.written) == (0, 0)


def test_take_zero_leaves_items():
    diode = Diode[int](3)
    diode.put(1)
    assert diode.take(0) == []
    assert len(diode) == 1


def test_without_on_drop_drops_are_still_counted():
    diode = Diode[str](1)
    diode.put("a")
    diode.put("b")
    assert diode.dropped == 1 and diode.take(5) == ["b"]


def test_wait_returns_at_once_when_data_is_ready():
    diode = Diode[int](3)
    diode.put(1)
    assert asyncio.run(diode.wait(timeout=5)) is True


def test_wait_times_out_when_empty():
    async def main() -> tuple[bool, float]:
        start = time.monotonic()
        ready = await Diode[int](3).wait(timeout=0.05)
        return ready, time.monotonic() - start

    ready, waited = asyncio.run(main())
    assert ready is False
    assert waited >= 0.04


def test_wait_wakes_for_a_writer_thread():
    diode = Diode[int](100)

    def writer() -> None:
        # Put only once the reader is parked, so this exercises the cross-thread wake-up.
        wait_until(lambda: diode._waiter is not None)
        diode.put_many(range(10))

    async def main() -> tuple[bool, float]:
        thread = threading.Thread(target=writer)
        start = time.monotonic()
        thread.start()
        ready = await diode.wait(timeout=10)
        elapsed = time.monotonic() - start
        thread.join()
        return ready, elapsed

    ready, elapsed = asyncio.run(main())
    assert ready is True
    assert elapsed < 5  # woken by the put, not by the 10 s timeout
    assert diode.take(100) == list(range(10))


def test_wait_wakes_for_a_put_on_the_same_loop():
    diode = Diode[int](10)

    async def main() -> bool:
        asyncio.get_running_loop().call_later(0.02, diode.put, 42)
        return await diode.wait(timeout=10)

    assert asyncio.run(main()) is True
    assert diode.take(1) == [42]


def test_threaded_writers_and_an_async_reader_account_for_everything():
    diode = Diode[int](64)
    writers, per_writer = 4, 5000
    taken: list[int] = []

    def write(base: int) -> None:
        for i in range(per_writer):
            diode.put(base + i)

    async def read(done: threading.Event) -> None:
        while not (done.is_set() and len(diode) == 0):
            if await diode.wait(timeout=0.05):
                taken.extend(diode.take(100))

    async def main() -> None:
        done = threading.Event()
        reader = asyncio.create_task(read(done))
        threads = [threading.Thread(target=write, args=(w * per_writer,)) for w in range(writers)]
        for t in threads:
            t.start()
        await asyncio.to_thread(lambda: [t.join() for t in threads])
        done.set()
        await asyncio.wait_for(reader, 10)

    asyncio.run(main())
    total = writers * per_writer
    assert diode.written == total
    assert len(taken) + diode.dropped == total
    assert len(set(taken)) == len(taken)
    for w in range(writers):  # each writer's surviving items stay in order
        mine = [x for x in taken if w * per_writer <= x < (w + 1) * per_writer]
        assert mine == sorted(mine)


def test_max_bytes_must_be_positive():
    with pytest.raises(ValueError):
        Diode(10, max_bytes=0)


def test_the_byte_bound_drops_the_oldest_until_both_bounds_hold():
    drops: list[int] = []
    d: Diode[bytes] = Diode(100, drops.append, max_bytes=10)
    d.put(b"aaaa")
    d.put(b"bbbb")
    assert d.bytes == 8 and d.dropped == 0
    d.put(b"cccc")  # 12 bytes: the oldest goes
    assert d.bytes == 8 and d.dropped == 1 and drops == [1]
    d.put_many([b"d" * 3, b"e" * 3, b"f" * 3])  # 17 bytes: b and c go, 9 stay
    assert d.take(10) == [b"ddd", b"eee", b"fff"]
    assert d.dropped == 3 and drops == [1, 2] and d.bytes == 0


def test_an_item_larger_than_the_byte_bound_is_dropped_and_counted():
    d: Diode[bytes] = Diode(100, max_bytes=10)
    d.put(b"ok")
    d.put(b"x" * 11)
    assert len(d) == 0 and d.dropped == 2 and d.bytes == 0


def test_the_count_bound_still_holds_beside_the_byte_bound():
    d: Diode[bytes] = Diode(2, max_bytes=1000)
    d.put_many([b"a", b"b", b"c"])
    assert d.take(10) == [b"b", b"c"] and d.dropped == 1


def test_a_partial_take_keeps_the_byte_count_of_what_is_left():
    d: Diode[tuple[bytes, str]] = Diode(100, max_bytes=100, size_of=lambda item: len(item[0]))
    d.put_many([(b"x" * 10, "a"), (b"y" * 20, "b"), (b"z" * 30, "c")])
    assert d.bytes == 60
    assert d.take(1) == [(b"x" * 10, "a")]
    assert d.bytes == 50
    d.put((b"w" * 60, "d"))  # 110 bytes: y goes (90), then under the bound
    assert [i[1] for i in d.take(10)] == ["c", "d"] and d.dropped == 1
