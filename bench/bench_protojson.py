"""Benchmark: lgr.core.protojson.batch_json, the gateway's Go-protojson text; prints env/s.

Run: .venv/bin/python bench/bench_protojson.py [--seconds 1.0]

Three batches of 100 envelopes, parsed once (the gateway gets them parsed from the RLP stream):

- ``logs``: app log lines as the firehose carries them (guid source id, instance id, seven
  agent/app tags, a ~130-byte payload), from ten instances;
- ``mixed``: logs, counters, gauges (three metrics), timers and events, a fifth each;
- ``escapes``: logs whose tags and ids need JSON escapes (quotes, control characters, non-ASCII).

For each it prints env/s of ``batch_json`` alone and of the gateway's whole SSE frame
(``EnvelopeBatch.FromString`` of the wire bytes + ``sse.batch_frame``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lgr.core import envelope as E  # noqa: E402
from lgr.core import protojson  # noqa: E402
from lgr.core._proto.loggregator.v2 import envelope_pb2  # noqa: E402
from lgr.core.apps.gateway import sse  # noqa: E402

TAGS = {
    "deployment": "cf",
    "index": "4f8a3c2e-0b2d-4f0e-9d53-3c1f2a9e7b10",
    "ip": "10.0.16.5",
    "job": "diego-cell",
    "origin": "rep",
    "source_type": "APP/PROC/WEB",
    "app_name": "checkout",
}
SOURCE = "f47ac10b-58cc-4372-a567-0e02b2c3d479"
LINE = "2024-01-01T00:00:00.000Z INFO request served path=/v2/apps/{i} status=200 duration=1.2ms "


def logs(n: int = 100) -> list[envelope_pb2.Envelope]:
    return [E.log((LINE.format(i=i) * 2)[:130], source_id=SOURCE, instance_id=str(i % 10),
                  timestamp=1700000000123456789 + i, tags=TAGS) for i in range(n)]


def mixed(n: int = 100) -> list[envelope_pb2.Envelope]:
    makers: list[Callable[[int], envelope_pb2.Envelope]] = [
        lambda i: E.log((LINE.format(i=i) * 2)[:130], source_id=SOURCE, instance_id="0", tags=TAGS),
        lambda i: E.counter("requests", delta=1, total=1000 + i, source_id=SOURCE, tags=TAGS),
        lambda i: E.gauge({"cpu": (12.5 + i / 7, "percentage"), "memory": (268435456.0, "bytes"),
                           "disk": (2147483648.0, "bytes")}, source_id=SOURCE, tags=TAGS),
        lambda i: E.timer("http", start=1700000000000000000, stop=1700000000250000000 + i,
                          source_id=SOURCE, tags=TAGS),
        lambda i: E.event("deploy", f"app {i} restarted", source_id=SOURCE, tags=TAGS),
    ]
    return [makers[i % len(makers)](i) for i in range(n)]


def escapes(n: int = 100) -> list[envelope_pb2.Envelope]:
    tags = {"quote": 'say "hi"', "ctl": "tab\there\nnl\x01", "uni": "héllo ✓ 😀", "bs": "a\\b"}
    return [E.log(f"line {i}", source_id=f'src "{i % 5}"', instance_id="é", tags=tags)
            for i in range(n)]


def rate(fn: Callable[[], object], n: int, seconds: float) -> float:
    fn()
    calls, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(10):
            fn()
        calls += 10
    return calls * n / elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    args = p.parse_args()
    for name, make in (("logs", logs), ("mixed", mixed), ("escapes", escapes)):
        envs = make()
        wire = E.join_batch(e.SerializeToString() for e in envs)
        batch = envelope_pb2.EnvelopeBatch.FromString(wire).batch
        json_rate = rate(lambda b=batch: protojson.batch_json(b), len(envs), args.seconds)
        frame_rate = rate(
            lambda w=wire: sse.batch_frame(envelope_pb2.EnvelopeBatch.FromString(w).batch),
            len(envs), args.seconds)
        print(f"{name:<8} batch_json {json_rate:>10,.0f} env/s   "
              f"parse + SSE frame {frame_rate:>10,.0f} env/s")


if __name__ == "__main__":
    main()
