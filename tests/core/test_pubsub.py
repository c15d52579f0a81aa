"""PubSub: shard groups, deterministic routing, unsubscribe and isolation between subscribers."""

from __future__ import annotations

import collections
import random
import threading
import time

import pytest
from google.protobuf.message import DecodeError

from lgr.core._proto.loggregator.v2 import egress_pb2, envelope_pb2
from lgr.core.diode import Diode
from lgr.core.crc64 import crc64_ecma
from lgr.core.pubsub import PubSub


def _request(
    shard_id: str = "", deterministic_name: str = "", **selector
) -> egress_pb2.EgressBatchRequest:
    if not selector.keys() & {"log", "counter", "gauge", "timer", "event"}:
        selector["log"] = {}
    return egress_pb2.EgressBatchRequest(
        shard_id=shard_id,
        deterministic_name=deterministic_name,
        selectors=[egress_pb2.Selector(**selector)],
    )


def _log(i: int, source_id: str = "app") -> tuple[envelope_pb2.Envelope, bytes]:
    env = envelope_pb2.Envelope(source_id=source_id, timestamp=i, log={"payload": b"x"})
    return env, env.SerializeToString()


def _counter(name: str, i: int = 0) -> tuple[envelope_pb2.Envelope, bytes]:
    env = envelope_pb2.Envelope(source_id="app", timestamp=i, counter={"name": name, "delta": 1})
    return env, env.SerializeToString()


def _gauge(names: list[str], i: int = 0) -> tuple[envelope_pb2.Envelope, bytes]:
    env = envelope_pb2.Envelope(source_id="app", timestamp=i)
    for name in names:
        env.gauge.metrics[name].value = float(i)
    return env, env.SerializeToString()


def test_crc64_is_gos_ecma_checksum():
    assert crc64_ecma("123456789") == 0x995DC9BBDF1939FA  # the CRC-64/XZ check value
    assert crc64_ecma("") == 0


def test_shard_group_gets_each_envelope_exactly_once():
    pubsub = PubSub(rand=random.Random(7).randrange)
    group = [[] for _ in range(3)]
    other_group, unsharded = [], []
    for got in group:
        pubsub.subscribe(_request(shard_id="g"), got.append)
    pubsub.subscribe(_request(shard_id="h"), other_group.append)
    pubsub.subscribe(_request(), unsharded.append)

    sent = [_log(i) for i in range(3000)]
    for env, data in sent:
        assert pubsub.publish(env, data) == 3  # one for the group, one for h, one unsharded

    everything = [data for _, data in sent]
    assert sorted(b for got in group for b in got) == sorted(everything)
    assert all(len(got) > 800 for got in group)  # ~1000 each: the split is spread, not stuck
    assert other_group == everything
    assert unsharded == everything


def test_distinct_shard_ids_each_get_everything():
    pubsub = PubSub()
    a, b = [], []
    pubsub.subscribe(_request(shard_id="a"), a.append)
    pubsub.subscribe(_request(shard_id="b"), b.append)
    for i in range(50):
        pubsub.publish(*_log(i))
    assert len(a) == len(b) == 50


def test_rand_is_injectable():
    pubsub = PubSub(rand=lambda n: n - 1)
    subs = [[] for _ in range(3)]
    for got in subs:
        pubsub.subscribe(_request(shard_id="g"), got.append)
    for i in range(10):
        pubsub.publish(*_log(i))
    assert [len(got) for got in subs] == [0, 0, 10]


def test_deterministic_name_keeps_a_metric_name_on_one_member():
    pubsub = PubSub(rand=random.Random(1).randrange)
    received: dict[str, list[bytes]] = {}
    seen_by = collections.defaultdict(set)
    for dname in ("c", "a", "b"):  # subscription order differs from name order on purpose
        got = received[dname] = []
        pubsub.subscribe(_request("g", dname, counter={}), got.append)
        pubsub.subscribe(_request("g", dname, gauge={}), got.append)

    names = [f"metric-{i}" for i in range(40)]
    for rnd in range(5):
        for name in names:
            pubsub.publish(*_counter(name, rnd))
            pubsub.publish(*_gauge([name, "cpu"], rnd))
    for dname, got in received.items():
        for data in got:
            env = envelope_pb2.Envelope.FromString(data)
            key = env.counter.name if env.HasField("counter") else tuple(sorted(env.gauge.metrics))
            seen_by[key].add(dname)

    assert len(seen_by) == 80 and all(len(members) == 1 for members in seen_by.values())
    ordered = ["a", "b", "c"]  # upstream orders members by deterministic name
    for name in names:
        assert seen_by[name] == {ordered[crc64_ecma(name) % 3]}
        gauge_hash = (crc64_ecma(name) + crc64_ecma("cpu")) % (1 << 64)
        assert seen_by[tuple(sorted([name, "cpu"]))] == {ordered[gauge_hash % 3]}
    assert len({m for members in seen_by.values() for m in members}) == 3


def test_deterministic_group_still_shares_logs_randomly():
    pubsub = PubSub(rand=random.Random(3).randrange)
    subs = {d: [] for d in ("a", "b")}
    for dname, got in subs.items():
        pubsub.subscribe(_request("g", dname), got.append)
    for i in range(400):
        assert pubsub.publish(*_log(i)) == 1
    assert all(len(got) > 100 for got in subs.values())


def test_one_deterministic_member_makes_the_group_deterministic():
    pubsub = PubSub(rand=lambda n: 0)
    first, named = [], []
    pubsub.subscribe(_request("g", "", counter={}), first.append)
    pubsub.subscribe(_request("g", "z", counter={}), named.append)
    # Members ordered by name: "" then "z"; rand would always pick index 0.
    target = next(n for n in (f"n{i}" for i in range(100)) if crc64_ecma(n) % 2 == 1)
    pubsub.publish(*_counter(target))
    assert (len(first), len(named)) == (0, 1)


def test_unsubscribe_stops_deliveries_and_is_idempotent():
    pubsub = PubSub()
    a, b = [], []
    sub_a = pubsub.subscribe(_request(shard_id="g"), a.append)
    pubsub.subscribe(_request(shard_id="g"), b.append)
    assert len(pubsub) == pubsub.subscription_count == 2

    sub_a.unsubscribe()
    sub_a.unsubscribe()
    pubsub.unsubscribe(sub_a)
    assert len(pubsub) == 1
    for i in range(20):
        pubsub.publish(*_log(i))
    assert len(b) == 20  # the remaining member now gets everything
    count_before = len(a)
    pubsub.publish(*_log(99))
    assert len(a) == count_before


def test_unsubscribe_removes_every_selector_of_the_request():
    pubsub = PubSub()
    got = []
    request = egress_pb2.EgressBatchRequest(
        selectors=[egress_pb2.Selector(log={}), egress_pb2.Selector(source_id="app", counter={})]
    )
    sub = pubsub.subscribe(request, got.append)
    pubsub.publish(*_log(1))
    pubsub.publish(*_counter("x"))
    assert len(got) == 2
    sub.unsubscribe()
    assert pubsub.publish(*_log(2)) == 0 and pubsub.publish(*_counter("x")) == 0


def test_slow_subscriber_drops_in_its_own_diode_without_affecting_others():
    pubsub = PubSub()
    slow = Diode[bytes](10)  # never drained: a stalled consumer
    fast: list[bytes] = []
    pubsub.subscribe(_request(), slow.put)
    pubsub.subscribe(_request(), fast.append)
    sent = [_log(i) for i in range(1000)]
    for env, data in sent:
        pubsub.publish(env, data)
    assert fast == [data for _, data in sent]
    assert slow.dropped == 990
    assert slow.take(100) == [data for _, data in sent[-10:]]


def test_failing_subscriber_does_not_stop_the_fan_out():
    pubsub = PubSub()

    def broken(data: bytes) -> None:
        raise RuntimeError("consumer went away")

    before, after = [], []
    pubsub.subscribe(_request(), before.append)
    bad = pubsub.subscribe(_request(), broken)
    pubsub.subscribe(_request(), after.append)
    for i in range(5):
        assert pubsub.publish(*_log(i)) == 2
    assert len(before) == len(after) == 5
    assert bad.errors == 5


def test_counter_and_gauge_names_route_to_their_own_subscriptions():
    pubsub = PubSub()
    by_name, any_counter, cpu_mem, other = [], [], [], []
    pubsub.subscribe(_request(counter={"name": "requests"}), by_name.append)
    pubsub.subscribe(_request(source_id="app", counter={}), any_counter.append)
    pubsub.subscribe(_request(gauge={"names": ["memory", "cpu"]}), cpu_mem.append)
    pubsub.subscribe(_request(source_id="other", counter={}), other.append)

    assert pubsub.publish(*_counter("requests")) == 2
    assert pubsub.publish(*_counter("errors")) == 1
    assert pubsub.publish(*_gauge(["cpu", "memory"])) == 1
    assert pubsub.publish(*_gauge(["cpu"])) == 0
    assert (len(by_name), len(any_counter), len(cpu_mem), len(other)) == (1, 2, 1, 0)


def test_publish_peeked_parses_only_when_routing_needs_fields():
    pubsub = PubSub()
    logs, counters = [], []
    pubsub.subscribe(_request(), logs.append)
    pubsub.subscribe(_request(counter={}), counters.append)
    garbage = b"\xff\xff"  # never parsed: a wildcard log or counter selector needs only the kind
    assert pubsub.publish_peeked(garbage, "app", "log") == 1
    assert pubsub.publish_peeked(garbage, "app", "counter") == 1
    assert pubsub.publish_peeked(garbage, "app", "") == 0
    assert logs == counters == [garbage]

    named = []
    pubsub.subscribe(_request(counter={"name": "requests"}), named.append)
    env, data = _counter("requests")
    assert pubsub.publish_peeked(data, "app", "counter") == 2
    assert named == [data]
    with pytest.raises(DecodeError):
        pubsub.publish_peeked(garbage, "app", "counter")


def test_publish_batch_hands_each_subscription_its_copies_in_one_call():
    pubsub = PubSub(rand=lambda n: 0)
    calls: list[list[bytes]] = []
    singles: list[bytes] = []
    pubsub.subscribe(_request(), singles.append, calls.append)
    pubsub.subscribe(_request(source_id="app", counter={"name": "hits"}), singles.append)
    logs = [_log(i) for i in range(5)]
    hits = _counter("hits")
    items = [(d, e.source_id, e.WhichOneof("message")) for e, d in [*logs[:3], hits, *logs[3:]]]
    items.append((b"", "app", ""))  # no message: skipped
    assert pubsub.publish_batch(items) == 6
    assert calls == [[d for _, d in logs]]  # one call, in order
    assert singles == [hits[1]]  # no deliver_many: one deliver per copy


def test_publish_batch_isolates_a_failing_deliver_many():
    pubsub = PubSub()
    good: list[list[bytes]] = []

    def broken(copies: list[bytes]) -> None:
        raise RuntimeError("gone")

    bad = pubsub.subscribe(_request(), lambda d: None, broken)
    pubsub.subscribe(_request(), lambda d: None, good.append)
    env, data = _log(1)
    assert pubsub.publish_batch([(data, "app", "log")] * 3) == 3
    assert good == [[data] * 3] and bad.errors == 1


def test_new_subscriptions_see_routes_already_used():
    pubsub = PubSub()
    first, later = [], []
    pubsub.subscribe(_request(), first.append)
    assert pubsub.publish(*_log(1)) == 1
    pubsub.subscribe(_request(source_id="app", log={}), later.append)
    pubsub.subscribe(_request(shard_id="g", counter={"name": "x"}), later.append)
    assert pubsub.publish(*_log(2)) == 2
    assert pubsub.publish(*_counter("x")) == 1
    assert len(later) == 2


def test_route_cache_is_bounded(monkeypatch):
    monkeypatch.setattr("lgr.core.pubsub._MAX_ROUTES", 4)
    pubsub = PubSub()
    got = []
    pubsub.subscribe(_request(), got.append)
    for i in range(50):
        assert pubsub.publish(*_log(i, source_id=f"app-{i % 10}")) == 1
    assert len(pubsub._routes) <= 4 and len(got) == 50


def test_nothing_to_deliver():
    pubsub = PubSub()
    assert pubsub.publish(*_log(1)) == 0
    pubsub.subscribe(_request(), lambda data: None)
    empty = envelope_pb2.Envelope(source_id="app")
    assert pubsub.publish(empty, empty.SerializeToString()) == 0
    assert pubsub.publish(*_counter("x")) == 0


def test_subscribe_and_unsubscribe_while_publishing():
    pubsub = PubSub()
    stop = threading.Event()
    errors: list[BaseException] = []
    total = [0]

    def publisher() -> None:
        try:
            i = 0
            while not stop.is_set():
                total[0] += pubsub.publish(*_log(i))
                i += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    thread = threading.Thread(target=publisher)
    thread.start()
    try:
        deadline = time.monotonic() + 0.3
        while time.monotonic() < deadline:
            subs = [pubsub.subscribe(_request(shard_id=random.choice(["", "g"])), lambda d: None)
                    for _ in range(5)]
            for sub in subs:
                sub.unsubscribe()
    finally:
        stop.set()
        thread.join(5)
    assert not errors
    assert len(pubsub) == 0
