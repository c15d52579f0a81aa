"""The firehose end to end: agent → router → rlp → consumer as real processes over mTLS.

Every envelope kind round-trips with all its fields; v1 UDP arrives converted (by the router); selectors and
shard groups behave as upstream's; use_preferred_tags is honoured.
"""

from __future__ import annotations

import json
import socket

import pytest

from lgr.core import envelope
from lgr.core._proto.events import envelope_pb2 as v1
from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.conversion import to_v2
from lgr.core.probe import split_address
from tests.conftest import wait_until
from tests.e2e.conftest import AGENT_ENV, E2EStack
from tests.e2e.helpers import all_kinds, selector

pytestmark = pytest.mark.e2e

AGENT_TAGS = dict(kv.split(":") for kv in AGENT_ENV["AGENT_TAGS"].split(","))
T0 = 1_700_000_000_123_456_789


def _with_agent_tags(env: envelope_pb2.Envelope) -> envelope_pb2.Envelope:
    out = envelope_pb2.Envelope()
    out.CopyFrom(env)
    for key, value in AGENT_TAGS.items():
        out.tags.setdefault(key, value)
    return out


def _by_timestamp(envs: list[envelope_pb2.Envelope]) -> list[envelope_pb2.Envelope]:
    return sorted(envs, key=lambda e: e.timestamp)


def test_every_kind_round_trips_with_all_fields(e2e: E2EStack) -> None:
    src = "roundtrip-app"
    consumer = e2e.consumer(all_kinds(src))
    tags = {"job": "my-job", "az": "z9", "unicode": "héllo ✓"}
    common = {"source_id": src, "instance_id": "7", "tags": tags}
    sent = [
        envelope.log(b"\x00\xffbinary\nline\t\x7f", type="OUT", timestamp=T0, **common),
        envelope.log("stderr line", type="ERR", timestamp=T0 + 1, **common),
        envelope.counter("requests", delta=5, timestamp=T0 + 2, **common),
        envelope.counter("requests", delta=3, timestamp=T0 + 3, **common),
        envelope.counter("absolute", total=42, timestamp=T0 + 4, **common),
        envelope.gauge({"cpu": (0.25, "percentage"), "memory": (1.5e9, "bytes")},
                       timestamp=T0 + 5, **common),
        envelope.timer("http", start=T0 - 10_000_000, stop=T0 - 1, timestamp=T0 + 6, **common),
        envelope.event("deployed", "version 42 is live", timestamp=T0 + 7, **common),
    ]
    e2e.emitter().send(sent)
    wait_until(lambda: len(consumer.received(src)) >= len(sent), timeout=10)

    expected = [_with_agent_tags(e) for e in sent]
    expected[3].counter.total = 8  # the agent keeps the running total of a delta-only counter
    expected[2].counter.total = 5
    got = _by_timestamp(consumer.received(src))
    assert got == expected
    assert got[0].log.payload == b"\x00\xffbinary\nline\t\x7f"
    assert got[0].tags["job"] == "my-job" and got[0].tags["zone"] == "z1"  # absent agent tags only


def test_use_preferred_tags_false_moves_tags_to_deprecated_tags(e2e: E2EStack) -> None:
    src = "deprecated-tags-app"
    consumer = e2e.consumer([selector("log", src)], use_preferred_tags=False)
    e2e.emitter().send([envelope.log("hi", source_id=src, tags={"k": "v"}, timestamp=T0)])
    got = wait_until(lambda: consumer.received(src), timeout=10)[0]
    assert dict(got.tags) == {}
    assert {k: v.text for k, v in got.deprecated_tags.items()} == {"k": "v", **AGENT_TAGS}


V1_VECTORS = (
    "log_out_full", "value_metric_source_id_tag", "http_zero_app_uuid_with_source_id_tag",
    "container_empty_app_id_source_id_tag", "error_negative_code_source_id_tag", "counter_with_total",
)


def _expected_from_v1(data: bytes) -> envelope_pb2.Envelope:
    # Upstream's agent sets the source_id tag to the origin when it is empty and fills
    # deployment, job, index and ip from AGENT_* where missing (never AGENT_TAGS); the router
    # converts with preferred tags (the conversion itself is pinned by tests/vectors).
    env = v1.Envelope.FromString(data)
    if not env.tags.get("source_id"):
        env.tags["source_id"] = env.origin
    for field in ("deployment", "job", "index", "ip"):
        if not env.HasField(field):
            setattr(env, field, AGENT_ENV[f"AGENT_{field.upper()}"])
    return to_v2(env, True)


def test_v1_udp_dropsonde_arrives_converted(e2e: E2EStack, vectors_dir) -> None:
    vectors = {v["name"]: v for v in json.loads((vectors_dir / "v1_to_v2.json").read_text())}
    datagrams = [bytes.fromhex(vectors[name]["v1_envelope_hex"]) for name in V1_VECTORS]
    expected = {e.source_id: e for e in map(_expected_from_v1, datagrams)}
    assert len(expected) == len(V1_VECTORS)
    consumer = e2e.consumer([sel for src in expected for sel in all_kinds(src)])
    agent_metrics = e2e.metrics(e2e.agent)
    malformed_before = agent_metrics.value("malformed")

    host, port = split_address(e2e.agent.udp_address)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for data in datagrams:
            sock.sendto(data, (host, port))
        sock.sendto(b"\xff\x00 not dropsonde", (host, port))

    wait_until(lambda: len(consumer.received()) >= len(expected), timeout=10)
    got = {e.source_id: e for e in consumer.received()}
    assert got == expected
    wait_until(lambda: agent_metrics.value("malformed") == malformed_before + 1, timeout=10)


def test_selectors_filter_by_app_type_counter_name_and_gauge_names(e2e: E2EStack) -> None:
    a, b = "selectors-a", "selectors-b"
    by_app = e2e.consumer([selector("log", a)], wait=False)
    by_type = e2e.consumer([selector("counter")], wait=False)
    by_counter_name = e2e.consumer([selector("counter", a, name="hits")], wait=False)
    by_gauge_names = e2e.consumer([selector("gauge", a, names=["cpu", "mem"])], wait=False)
    union = e2e.consumer([selector("log", b), selector("event", a)], wait=False)
    everything = e2e.consumer(all_kinds(a) + all_kinds(b), wait=False)
    e2e.wait_subscriptions()

    sent = []
    for src in (a, b):
        sent += [
            envelope.log(f"log of {src}", source_id=src),
            envelope.counter("hits", delta=1, source_id=src),
            envelope.counter("misses", delta=1, source_id=src),
            envelope.gauge({"cpu": 1.0, "mem": 2.0}, source_id=src),
            envelope.gauge({"cpu": 1.0}, source_id=src),
            envelope.gauge({"cpu": 1.0, "mem": 2.0, "disk": 3.0}, source_id=src),
            envelope.timer("t", 1, 2, source_id=src),
            envelope.event("title", f"event of {src}", source_id=src),
        ]
    e2e.emitter().send(sent)
    # Everything passes through the same router; once the catch-all consumer has all of it,
    # the narrower streams have had their share delivered too.
    wait_until(lambda: len(everything.received(a)) + len(everything.received(b)) == len(sent), timeout=10)

    def seen(c) -> list[tuple[str, str, str]]:
        out = []
        for e in c.received(a) + c.received(b):
            kind = envelope.kind_of(e)
            detail = {"log": lambda: e.log.payload.decode(), "counter": lambda: e.counter.name,
                      "gauge": lambda: ",".join(sorted(e.gauge.metrics)), "timer": lambda: e.timer.name,
                      "event": lambda: e.event.body}[kind]()
            out.append((e.source_id, kind, detail))
        return sorted(out)

    expect = {
        by_app: [(a, "log", f"log of {a}")],
        by_type: sorted([(s, "counter", n) for s in (a, b) for n in ("hits", "misses")]),
        by_counter_name: [(a, "counter", "hits")],
        by_gauge_names: [(a, "gauge", "cpu,mem")],  # the set of names must be equal
        union: sorted([(a, "event", f"event of {a}"), (b, "log", f"log of {b}")]),
    }
    for consumer, want in expect.items():
        wait_until(lambda c=consumer, w=want: seen(c) == w, timeout=5)


def test_shard_groups_split_within_a_group_and_each_group_gets_all(e2e: E2EStack) -> None:
    src = "sharded-app"
    sel = [selector("log", src)]
    g1 = [e2e.consumer(sel, shard_id="group-1", wait=False) for _ in range(2)]
    g2 = e2e.consumer(sel, shard_id="group-2", wait=False)
    e2e.wait_subscriptions()
    n = 300
    emitter = e2e.emitter()
    for start in range(0, n, 100):
        emitter.send([envelope.log(f"{i}", source_id=src) for i in range(start, start + 100)])

    wait_until(lambda: len(g2.received(src)) == n, timeout=10)
    wait_until(lambda: sum(len(c.received(src)) for c in g1) == n, timeout=10)
    first, second = (set(c.payloads(src)) for c in g1)
    assert first and second, "both members of a shard group get a share"
    assert not first & second, "each envelope goes to exactly one member of a group"
    assert first | second == set(g2.payloads(src)) == {str(i).encode() for i in range(n)}
