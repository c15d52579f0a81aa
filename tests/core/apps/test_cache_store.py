"""The log cache's store: order, eviction per source, pruning under the memory cap, reads, meta."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lgr.core import envelope
from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.apps.cache.store import CHUNK, ENVELOPE_OVERHEAD, KIND_CODES, Store, kind_code

END = 1 << 62
LOG, COUNTER, GAUGE, TIMER, EVENT = (KIND_CODES[k] for k in ("log", "counter", "gauge", "timer", "event"))


def data(ts: int, source_id: str = "app") -> bytes:
    return envelope.log(f"line {ts:06d}", source_id=source_id, timestamp=ts).SerializeToString()


def stamps(raw: list[bytes]) -> list[int]:
    return [envelope_pb2.Envelope.FromString(d).timestamp for d in raw]


def fill(store: Store, timestamps, source_id: str = "app") -> None:
    store.put_many([(ts, source_id, LOG, data(ts, source_id)) for ts in timestamps])


def test_reads_come_back_in_timestamp_order_whatever_the_arrival_order():
    store = Store()
    order = list(range(1, 3001))
    random.Random(7).shuffle(order)
    fill(store, order)
    assert stamps(store.read("app", 0, END, limit=1000)) == list(range(1, 1001))
    assert stamps(store.read("app", 0, END, limit=1000, descending=True)) == list(range(3000, 2000, -1))
    assert store.meta()["app"].count == 3000


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 50), min_size=1, max_size=3 * CHUNK))
def test_any_arrival_order_reads_back_sorted_with_ties_in_arrival_order(timestamps):
    store = Store()
    store.put_many([(ts, "s", LOG, f"{ts}-{i}".encode()) for i, ts in enumerate(timestamps)])
    expected = [f"{ts}-{i}".encode() for i, ts in sorted(enumerate(timestamps), key=lambda p: p[1])]
    assert store.read("s", 0, END, limit=len(timestamps)) == expected
    # Descending is the exact reverse, ties included.
    assert store.read("s", 0, END, limit=len(timestamps), descending=True) == expected[::-1]
    low, high = 10, 40
    assert store.read("s", low, high, limit=10**6) == [e for e in expected if low <= int(e.split(b"-")[0]) < high]


def test_start_is_inclusive_and_end_exclusive():
    store = Store()
    fill(store, [10, 20, 30, 40])
    assert stamps(store.read("app", 20, 40)) == [20, 30]
    assert stamps(store.read("app", 20, 40, descending=True)) == [30, 20]
    assert store.read("app", 41, END) == [] and store.read("app", 30, 30) == []
    assert store.read("nobody", 0, END) == []


def test_limit_takes_the_first_in_the_reading_direction():
    store = Store()
    fill(store, range(1, 101))
    assert stamps(store.read("app", 0, END, limit=3)) == [1, 2, 3]
    assert stamps(store.read("app", 0, 51, limit=3, descending=True)) == [50, 49, 48]
    assert store.egress == 6


def test_each_source_keeps_max_per_source_and_evicts_its_oldest():
    store = Store(max_per_source=5)
    fill(store, [3, 1, 2, 7, 5, 4, 6], "a")
    fill(store, [100, 101], "b")
    assert stamps(store.read("a", 0, END)) == [3, 4, 5, 6, 7]  # 1 and 2 went first (the oldest)
    assert stamps(store.read("b", 0, END)) == [100, 101]
    meta = store.meta()
    assert (meta["a"].count, meta["a"].expired, meta["a"].oldest_timestamp, meta["a"].newest_timestamp) == (5, 2, 3, 7)
    assert (meta["b"].count, meta["b"].expired) == (2, 0)
    assert (store.size, store.expired, store.pruned, store.ingress) == (7, 2, 0, 9)


def test_the_memory_cap_prunes_the_oldest_across_sources():
    size = len(data(1, "a")) + ENVELOPE_OVERHEAD
    store = Store(memory_limit=10 * size, prune_to=1.0)
    fill(store, [1, 4, 7, 10, 13, 16], "a")
    fill(store, [2, 5, 8, 11, 14], "b")
    fill(store, [3, 6, 9], "c")  # 14 envelopes: the 4 oldest overall must go
    assert store.nbytes <= store.memory_limit and store.size == 10
    remaining = {sid: stamps(store.read(sid, 0, END)) for sid in ("a", "b", "c")}
    assert remaining == {"a": [7, 10, 13, 16], "b": [5, 8, 11, 14], "c": [6, 9]}
    assert store.pruned == 4 and store.expired == 0
    meta = store.meta()
    assert (meta["a"].expired, meta["b"].expired, meta["c"].expired) == (2, 1, 1)
    assert meta["a"].oldest_timestamp == 7


def test_pruning_goes_down_to_the_low_water_mark_and_drops_emptied_sources():
    size = len(data(1, "new")) + ENVELOPE_OVERHEAD
    store = Store(memory_limit=10 * size, prune_to=0.5)
    fill(store, [1], "old")
    fill(store, range(2, 12), "new")  # 11 held > 10: prune down to 5
    assert store.size == 5 and store.nbytes <= 5 * size
    assert "old" not in store.meta()
    assert stamps(store.read("new", 0, END)) == [7, 8, 9, 10, 11]
    assert store.pruned == 6


def test_types_filter_by_kind_code_and_skip_envelopes_without_a_message():
    store = Store()
    envs = [envelope.log("l", source_id="s", timestamp=1), envelope.counter("c", total=1, source_id="s", timestamp=2),
            envelope.gauge({"g": 1.0}, source_id="s", timestamp=3), envelope.timer("t", 0, 1, source_id="s", timestamp=4),
            envelope.event("e", "b", source_id="s", timestamp=5), envelope_pb2.Envelope(timestamp=6, source_id="s")]
    store.put_many([(e.timestamp, "s", kind_code(e.WhichOneof("message")), e.SerializeToString()) for e in envs])
    assert stamps(store.read("s", 0, END)) == [1, 2, 3, 4, 5, 6]
    assert stamps(store.read("s", 0, END, kinds={COUNTER, EVENT})) == [2, 5]
    assert stamps(store.read("s", 0, END, kinds={LOG}, descending=True)) == [1]


def test_the_name_filter_keeps_matching_metrics_and_trims_gauges():
    store = Store()
    envs = [envelope.counter("requests", total=1, source_id="s", timestamp=1),
            envelope.counter("errors", total=1, source_id="s", timestamp=2),
            envelope.gauge({"cpu": 1.0, "memory": 2.0, "disk": 3.0}, source_id="s", timestamp=3),
            envelope.timer("http_requests", 0, 1, source_id="s", timestamp=4),
            envelope.log("requests", source_id="s", timestamp=5),
            envelope.gauge({"disk": 1.0}, source_id="s", timestamp=6)]
    store.put_many([(e.timestamp, "s", kind_code(e.WhichOneof("message")), e.SerializeToString()) for e in envs])
    got = [envelope_pb2.Envelope.FromString(d) for d in store.read("s", 0, END, name_filter=re.compile("req|mem|cpu"))]
    assert [e.timestamp for e in got] == [1, 3, 4]  # logs never match a name filter
    assert sorted(got[1].gauge.metrics) == ["cpu", "memory"]
    assert got[0] == envs[0] and got[2] == envs[3]
    only_gauges = store.read("s", 0, END, kinds={GAUGE}, name_filter=re.compile("^disk$"))
    assert stamps(only_gauges) == [3, 6]
    assert store.read("s", 0, END, kinds={LOG}, name_filter=re.compile(".")) == []


def test_a_filtered_read_stops_at_the_limit():
    store = Store()
    store.put_many([(ts, "s", LOG if ts % 2 else COUNTER, data(ts)) for ts in range(1, 2001)])
    assert stamps(store.read("s", 0, END, kinds={LOG}, limit=3)) == [1, 3, 5]
    assert stamps(store.read("s", 0, END, kinds={COUNTER}, limit=3, descending=True)) == [2000, 1998, 1996]


def test_bytes_accounting_follows_puts_and_removals():
    store = Store(max_per_source=2)
    a, b, c = data(1), data(2), data(3) + b"x"
    store.put_many([(1, "s", LOG, a), (2, "s", LOG, b)])
    assert store.nbytes == len(a) + len(b) + 2 * ENVELOPE_OVERHEAD
    store.put(3, "s", LOG, c)
    assert store.nbytes == len(b) + len(c) + 2 * ENVELOPE_OVERHEAD
    assert store.oldest_timestamp() == 2


def test_max_per_source_must_be_positive():
    with pytest.raises(ValueError):
        Store(max_per_source=0)
