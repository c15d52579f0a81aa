"""Benchmark: the log cache's store — write throughput, read latency with 1M held, memory per envelope.

Run (from the repo root, with the project's venv):

    .venv/bin/python bench/bench_cache.py                       # 1M envelopes over 200 sources
    .venv/bin/python bench/bench_cache.py --envelopes 200000    # a quicker run
    .venv/bin/python bench/bench_cache.py --no-http             # skip the HTTP read timing

Everything runs in this one process on one core. Envelopes are agent-style app logs (~230 bytes
serialized, six tags), each its own bytes object as the nozzle would hand them over. Measured:

1. write: ``Store.put_many`` of batches of 100, in time order, and again with timestamps jittered
   by up to 1 s (out of order, as several agents' clocks give); plus the nozzle's whole path per
   batch (parse an EnvelopeBatch, serialize each envelope, put) for reference;
2. memory: RSS growth while filling the store with ``--envelopes``, divided by the count (the
   bytes, the store's arrays and lists, allocator overhead; nothing else is kept);
3. read: with the store full, a 1000-envelope read (newest first, and oldest first from the middle
   of a source) timed in the store, and as an HTTP GET /api/v1/read answered by a running cache
   (JSON included), p50 and p99 over ``--reads``;
4. name filter: a 1000-envelope read of one source of 100,000 counters and gauges with a
   ``name_filter`` that keeps one name in ten (so about 10,000 envelopes are parsed and matched),
   with lgr's RE2 (lgr.core.regex) and, for reference, Python's backtracking ``re``.

Targets (issue 5): writes >= 100k env/s, a 1000-envelope read <= 20 ms with 1M held, <= 0.5 KB per
held envelope. Not part of the test run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lgr.core._proto.loggregator.v2 import envelope_pb2  # noqa: E402
from lgr.core.apps.cache.store import KIND_CODES, Store  # noqa: E402

TAGS = {"deployment": "cf", "job": "diego-cell", "index": "0", "ip": "10.0.16.5",
        "origin": "rep", "source_type": "APP/PROC/WEB"}
PAYLOAD = b"2024-01-01T00:00:00Z INFO request served path=/v2/apps status=200 took=3ms"
T0 = 1_700_000_000_000_000_000
LOG = KIND_CODES["log"]


def guid(i: int) -> str:
    return f"{i:08x}-58cc-4372-a567-0e02b2c3d479"


def make_envelope(ts: int, source_id: str, instance: int) -> envelope_pb2.Envelope:
    env = envelope_pb2.Envelope(timestamp=ts, source_id=source_id, instance_id=str(instance), tags=TAGS)
    env.log.payload = PAYLOAD
    return env


def make_items(n: int, sources: int, jitter: int = 0, seed: int = 1) -> list[tuple[int, str, int, bytes]]:
    """``n`` (timestamp, source, kind, bytes) items, 1 µs apart, round-robin over sources."""
    rnd = random.Random(seed)
    template = make_envelope(T0, guid(0), 0)
    ids = [guid(i) for i in range(sources)]
    items = []
    for i in range(n):
        ts = T0 + i * 1000 + (rnd.randrange(jitter) if jitter else 0)
        template.timestamp = ts
        template.source_id = ids[i % sources]
        template.instance_id = str(i % 4)
        items.append((ts, ids[i % sources], LOG, template.SerializeToString()))
    return items


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def timed_puts(store: Store, items: list, batch: int = 100) -> float:
    started = time.perf_counter()
    for i in range(0, len(items), batch):
        store.put_many(items[i:i + batch])
    return time.perf_counter() - started


def bench_writes(n: int, sources: int) -> None:
    for label, jitter in (("in time order", 0), ("jittered up to 1 s", 1_000_000_000)):
        items = make_items(n, sources, jitter)
        elapsed = timed_puts(Store(), items)
        print(f"write  {label:<22} {n / elapsed:>12,.0f} env/s   ({n:,} envelopes, {sources} sources)")
        del items
    envs = [make_envelope(T0 + i * 1000, guid(i % sources), i % 4) for i in range(100)]
    batch = envelope_pb2.EnvelopeBatch(batch=envs).SerializeToString()
    store, rounds = Store(), max(1, n // 1000)
    started = time.perf_counter()
    for _ in range(rounds):
        parsed = envelope_pb2.EnvelopeBatch.FromString(batch).batch
        store.put_many([(e.timestamp, e.source_id, KIND_CODES.get(e.WhichOneof("message") or "", 0),
                         e.SerializeToString()) for e in parsed])
    elapsed = time.perf_counter() - started
    print(f"write  nozzle path (parse+put)  {rounds * 100 / elapsed:>12,.0f} env/s")


def fill(n: int, sources: int) -> tuple[Store, float]:
    """A store holding ``n`` envelopes; the bytes per envelope it cost in RSS."""
    gc.collect()
    before = rss()
    store = Store(max_per_source=n)
    template = make_envelope(T0, guid(0), 0)
    ids = [guid(i) for i in range(sources)]
    chunk = []
    for i in range(n):
        template.timestamp = T0 + i * 1000
        template.source_id = ids[i % sources]
        template.instance_id = str(i % 4)
        chunk.append((T0 + i * 1000, ids[i % sources], LOG, template.SerializeToString()))
        if len(chunk) == 100:
            store.put_many(chunk)
            chunk = []
    store.put_many(chunk)
    del chunk
    gc.collect()
    return store, (rss() - before) / n


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def bench_store_reads(store: Store, sources: int, reads: int) -> None:
    held = len(store) // sources
    for label, kwargs in (("newest 1000 (descending)", {"descending": True}),
                          ("1000 from the middle", {"start": T0 + (held // 2) * sources * 1000})):
        start = kwargs.pop("start", 0)
        times = []
        for r in range(reads):
            sid = guid(r % sources)
            t = time.perf_counter()
            got = store.read(sid, start, 1 << 62, limit=1000, **kwargs)
            times.append(time.perf_counter() - t)
            assert len(got) == 1000, len(got)
        print(f"read   store, {label:<27} p50 {percentile(times, .5) * 1e3:7.3f} ms   "
              f"p99 {percentile(times, .99) * 1e3:7.3f} ms")


def bench_name_filter(reads: int) -> None:
    import re

    from lgr.core import envelope, namefilter

    store = Store(max_per_source=200_000)
    envs = []
    for i in range(100_000):
        name = f"metric_{i % 10}_total"
        envs.append(envelope.counter(name, total=i, source_id="app", timestamp=T0 + i)
                    if i % 2 else envelope.gauge({name: (1.0, "b"), "other": (2.0, "b")},
                                                 source_id="app", timestamp=T0 + i))
    store.put_envelopes(envs)
    for label, pattern in (("RE2 (lgr.core.regex)", namefilter.compile_filter("metric_3_")),
                           ("python re, for reference", re.compile("metric_3_"))):
        times = []
        for _ in range(reads):
            t = time.perf_counter()
            got = store.read("app", 0, 1 << 62, limit=1000, name_filter=pattern)  # type: ignore[arg-type]
            times.append(time.perf_counter() - t)
            assert len(got) == 1000, len(got)
        print(f"read   name filter, {label:<25} p50 {percentile(times, .5) * 1e3:7.3f} ms   "
              f"p99 {percentile(times, .99) * 1e3:7.3f} ms")


async def bench_http_reads(store: Store, sources: int, reads: int) -> None:
    import aiohttp

    from lgr.core.apps.cache.app import Cache
    from lgr.core.apps.cache.config import CacheConfig
    from lgr.core.config import load_config

    config = load_config(CacheConfig, env={}, overrides={
        "addr": "127.0.0.1:0", "metrics_port": -1, "disable_access_control": True})
    cache = Cache(config)
    cache.store = store  # the filled store, served as is
    await cache.start()
    try:
        async with aiohttp.ClientSession() as http:
            times, size = [], 0
            for r in range(reads):
                url = f"{cache.url}/api/v1/read/{guid(r % sources)}?limit=1000&descending=true"
                t = time.perf_counter()
                async with http.get(url) as resp:
                    body = await resp.read()
                times.append(time.perf_counter() - t)
                size = len(body)
        print(f"read   HTTP GET, 1000 as JSON ({size / 1024:,.0f} KiB)  p50 "
              f"{percentile(times, .5) * 1e3:7.3f} ms   p99 {percentile(times, .99) * 1e3:7.3f} ms")
    finally:
        await cache.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envelopes", type=int, default=1_000_000)
    parser.add_argument("--sources", type=int, default=200)
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP read timing")
    args = parser.parse_args()
    size = len(make_envelope(T0, guid(0), 0).SerializeToString())
    print(f"envelope: {size} bytes serialized; python {sys.version.split()[0]}")
    bench_writes(args.envelopes, args.sources)
    store, per_envelope = fill(args.envelopes, args.sources)
    print(f"memory {per_envelope:,.0f} bytes per held envelope by RSS ({args.envelopes:,} held; "
          f"store accounts {store.nbytes / len(store):,.0f})")
    bench_store_reads(store, args.sources, args.reads)
    bench_name_filter(min(args.reads, 50))
    if not args.no_http:
        asyncio.run(bench_http_reads(store, args.sources, min(args.reads, 100)))


if __name__ == "__main__":
    main()
