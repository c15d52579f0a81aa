"""Benchmark: PubSub publish throughput with 1, 10 and 100 subscriptions; prints envelopes/s.

Run: .venv/bin/python bench/bench_pubsub.py [--quick]

Each subscription delivers into its own Diode, as the router's per-subscriber buffers do. Entry
points measured:

* ``publish``         parsed Envelope + bytes, one ``Diode.put`` per copy
* ``publish_peeked``  bytes + source_id and kind read off the wire, one ``Diode.put`` per copy
* ``publish_batch``   batches of 100 peeked triples, one ``Diode.put_many`` per subscriber/batch

Scenarios:

* ``wildcard``  every subscription selects all logs: each envelope fans out to all of them
* ``per-app``   each subscription selects one app's logs: each envelope reaches one subscription
                whatever the count, so throughput should stay flat (O(matching) routing)
* ``sharded``   all subscriptions share one shard_id: each envelope goes to one random member
* ``counters``  per-app named counter selectors: routing must parse to read the counter's name
"""

from __future__ import annotations

import sys
import time

from lgr.core._proto.loggregator.v2 import egress_pb2, envelope_pb2
from lgr.core.diode import Diode
from lgr.core.pubsub import PubSub

TAGS = {"deployment": "cf", "job": "diego-cell", "index": "0", "ip": "10.0.16.5", "origin": "rep"}
BATCH = 100


def _envelopes(
    sources: list[str], n: int, counter: bool
) -> list[tuple[envelope_pb2.Envelope, bytes]]:
    out = []
    for i in range(n):
        env = envelope_pb2.Envelope(timestamp=i, source_id=sources[i % len(sources)], tags=TAGS)
        if counter:
            env.counter.name, env.counter.delta, env.counter.total = "requests", 1, i
        else:
            env.log.payload = b"GET /v2/info 200 " * 4
        out.append((env, env.SerializeToString()))
    return out


def _request(source_id: str = "", shard_id: str = "", **message) -> egress_pb2.EgressBatchRequest:
    selector = egress_pb2.Selector(source_id=source_id, **(message or {"log": {}}))
    return egress_pb2.EgressBatchRequest(shard_id=shard_id, selectors=[selector])


def _build(scenario: str, subs: int, n: int):
    pubsub = PubSub()
    diodes: list[Diode[bytes]] = []
    apps = [f"app-{i:04d}" for i in range(subs if scenario in ("per-app", "counters") else 100)]
    for i in range(subs):
        request = {
            "wildcard": lambda: _request(),
            "per-app": lambda: _request(apps[i]),
            "sharded": lambda: _request(shard_id="firehose"),
            "counters": lambda: _request(apps[i], counter={"name": "requests"}),
        }[scenario]()
        diode: Diode[bytes] = Diode(n)  # big enough that nothing drops mid-round
        diodes.append(diode)
        pubsub.subscribe(request, diode.put, diode.put_many)
    return pubsub, diodes, _envelopes(apps, n, scenario == "counters")


def _round(pubsub: PubSub, envs, entry: str) -> tuple[float, int]:
    copies = 0
    if entry == "publish":
        start = time.perf_counter()
        for env, data in envs:
            copies += pubsub.publish(env, data)
    else:
        triples = [(data, env.source_id, env.WhichOneof("message") or "") for env, data in envs]
        start = time.perf_counter()
        if entry == "publish_peeked":
            for triple in triples:
                copies += pubsub.publish_peeked(*triple)
        else:
            for i in range(0, len(triples), BATCH):
                copies += pubsub.publish_batch(triples[i:i + BATCH])
    return len(envs) / (time.perf_counter() - start), copies


def main() -> None:
    quick = "--quick" in sys.argv
    base = 20_000 if quick else 100_000
    print(f"{base:,} envelopes per round (20,000 for wildcard x100), best of 3 rounds")
    for scenario in ("wildcard", "per-app", "sharded", "counters"):
        for subs in (1, 10, 100):
            n = 20_000 if (scenario, subs) == ("wildcard", 100) else base
            pubsub, diodes, envs = _build(scenario, subs, n)
            for entry in ("publish", "publish_peeked", "publish_batch"):
                best = 0.0
                for _ in range(3):
                    for diode in diodes:
                        diode.take(diode.size)
                    rate, copies = _round(pubsub, envs, entry)
                    best = max(best, rate)
                print(f"{scenario:<9} subs={subs:<4} {entry:<15} {best:>12,.0f} env/s"
                      f"  {copies / len(envs):>6.1f} copies/env")


if __name__ == "__main__":
    main()
