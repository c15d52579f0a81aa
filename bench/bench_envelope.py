"""Benchmark: wire-level split/join/peek against full upb parsing; prints ops/s.

Run: .venv/bin/python bench/bench_envelope.py
"""

from __future__ import annotations

import time
from collections.abc import Callable

from lgr.core import envelope as E
from lgr.core._proto.loggregator.v2 import envelope_pb2

TAGS = {
    "__v1_type": "LogMessage",
    "deployment": "cf",
    "index": "4f8a3c2e-0b2d-4f0e-9d53-3c1f2a9e7b10",
    "ip": "10.0.16.5",
    "job": "diego-cell",
    "origin": "rep",
    "source_type": "APP/PROC/WEB",
}
SOURCE = "f47ac10b-58cc-4372-a567-0e02b2c3d479"


def go_order(env: envelope_pb2.Envelope) -> bytes:
    """Serialize with the oneof member last, as Go does."""
    head = envelope_pb2.Envelope()
    head.CopyFrom(env)
    kind = head.WhichOneof("message")
    head.ClearField("message")
    tail = envelope_pb2.Envelope()
    if kind:
        getattr(tail, kind).CopyFrom(getattr(env, kind))
    return head.SerializeToString() + tail.SerializeToString()


def sample_envelopes(n: int = 100) -> list[bytes]:
    makers = [
        lambda i: E.log(f"line {i} " + "x" * 120, source_id=SOURCE, instance_id="0", tags=TAGS),
        lambda i: E.counter("requests", delta=1, total=i, source_id="cf/router", tags=TAGS),
        lambda i: E.gauge({"cpu": (0.5, "percentage"), "memory": (1e6, "bytes")},
                          source_id=SOURCE, instance_id="1", tags=TAGS),
        lambda i: E.timer("http", i, i + 5, source_id=SOURCE, tags=TAGS),
    ]
    return [go_order(makers[i % 10 % 4 if i % 10 < 4 else 0](i)) for i in range(n)]


def rate(label: str, fn: Callable[[], object], per_call: int, seconds: float = 1.0) -> float:
    calls = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(20):
            fn()
        calls += 20
    elapsed = time.perf_counter() - start
    ops = calls * per_call / elapsed
    print(f"{label:<48} {ops / 1e6:8.2f}M env/s")
    return ops


def main() -> None:
    envs = sample_envelopes(100)
    batch = E.join_batch(envs)
    assert E.split_batch(batch) == envs
    assert [e for e, _, _ in E.peek_batch(batch)] == envs
    n = len(envs)
    Batch = envelope_pb2.EnvelopeBatch
    Env = envelope_pb2.Envelope
    print(f"batch of {n} envelopes, {len(batch)} bytes")

    print("-- split a batch into envelopes")
    rate("split_batch (bytes slices)", lambda: E.split_batch(batch), n)
    rate("upb parse EnvelopeBatch only", lambda: Batch.FromString(batch), n)
    rate("upb parse + re-serialize each envelope",
         lambda: [e.SerializeToString() for e in Batch.FromString(batch).batch], n)

    print("-- join envelopes into a batch")
    parsed = list(Batch.FromString(batch).batch)
    rate("join_batch (bytes)", lambda: E.join_batch(envs), n)

    def upb_join_from_bytes() -> bytes:
        b = Batch()
        for e in envs:
            b.batch.add().MergeFromString(e)
        return b.SerializeToString()

    rate("upb EnvelopeBatch from bytes + serialize", upb_join_from_bytes, n)
    rate("upb EnvelopeBatch(batch=parsed) serialize",
         lambda: Batch(batch=parsed).SerializeToString(), n)

    print("-- source_id and kind of one envelope")

    def peek_all() -> None:
        for e in envs:
            E.peek(e)

    def upb_all() -> None:
        for e in envs:
            m = Env.FromString(e)
            m.source_id, m.WhichOneof("message")

    rate("peek", peek_all, n)
    rate("upb parse + source_id + WhichOneof", upb_all, n)

    print("-- route a batch: every envelope's source_id and kind")

    def route_peek() -> None:
        for e in E.split_batch(batch):
            E.peek(e)

    def route_upb() -> None:
        for m in Batch.FromString(batch).batch:
            m.source_id, m.WhichOneof("message")

    rate("split_batch + peek each", route_peek, n)
    rate("peek_batch", lambda: E.peek_batch(batch), n)
    rate("upb parse batch + read both fields", route_upb, n)


if __name__ == "__main__":
    main()
