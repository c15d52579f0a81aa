"""Benchmark: where the firehose's latency goes, hop by hop (emitter → agent → router → rlp → consumer).

Run (from the repo root, with the project's venv):

    .venv/bin/python bench/latency_hops.py                  # 10k env/s for 5 s, one router
    .venv/bin/python bench/latency_hops.py --rate 50000 --seconds 10

It runs one fixed-rate trial of ``firehose.py`` (same stack, emitter and consumer), with timing
hooks installed in every process through a generated ``sitecustomize`` on PYTHONPATH (so the
components' code is unchanged). Each hook reads the ``timestamp`` of the first envelope of the batch
passing by (the emitter stamps it with the time the batch was sent) and records ``now - timestamp``
for batches of the trial's source id. Stages, in path order:

    agent.in        the agent's BatchSender handler has the batch
    agent.queued    ... its envelopes are tagged and in the ingress diode
    agent.send      the dispatcher hands a joined batch to a free router stream
    agent.written   that stream's ``call.write`` returned
    router.in       the router's BatchSender handler has the batch (peek_batch next)
    router.publish  the batch is handed to the PubSub (by the handler, or the publisher task)
    router.take     the subscriber stream took it from its diode
    router.written  ``context.write`` of that batch returned
    rlp.in          the rlp's router stream read the batch
    rlp.take        the consumer stream took it from its diode
    rlp.written     ``context.write`` returned
    consumer        the consumer parsed it (firehose.py's own latency)

The per-stage p50/p99/max (ms since the emitter sent the batch) show the cost of each hop as the
difference to the previous stage. Not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
STAGES = ["agent.in", "agent.queued", "agent.send", "agent.written", "router.in",
          "router.publish", "router.take", "router.written", "rlp.in", "rlp.take",
          "rlp.written"]


# --- hooks: run inside each process via sitecustomize ------------------------------------------

def install() -> None:
    """Patch the data-path functions of every component with timing hooks (bench only)."""
    import atexit
    import functools
    import gc
    import time

    from lgr.core._proto.loggregator.v2 import envelope_pb2

    out_dir = os.environ["LGR_HOP_TRACE_DIR"]
    samples: dict[str, list[int]] = {}
    Envelope = envelope_pb2.Envelope

    def first_ts(env_bytes: bytes) -> int | None:
        env = Envelope.FromString(env_bytes)
        return env.timestamp if env.source_id.startswith("bench-") else None

    def batch_first(batch: bytes) -> bytes:
        # EnvelopeBatch: field 1 (0x0a), varint length, envelope
        pos, length, shift = 1, 0, 0
        while True:
            b = batch[pos]
            pos += 1
            length |= (b & 0x7F) << shift
            if not b & 0x80:
                break
            shift += 7
        return batch[pos:pos + length]

    def record(stage: str, ts: int | None) -> None:
        if ts:
            now = time.time_ns()
            samples.setdefault(stage, []).append(now - ts)
            flow = samples.setdefault("_flow", [ts, now])
            flow[1] = now

    def dump() -> None:
        if samples:
            path = Path(out_dir) / f"{os.getpid()}.json"
            path.write_text(json.dumps({"argv": sys.argv, "samples": samples}))

    atexit.register(dump)

    gc_started = [0]

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter_ns()
        else:
            samples.setdefault(f"gc{info['generation']}", []).append(
                [time.time_ns(), time.perf_counter_ns() - gc_started[0]])

    gc.callbacks.append(on_gc)

    class TimedContext:
        def __init__(self, ctx, stage: str) -> None:
            self._ctx, self._stage = ctx, stage

        def __getattr__(self, name):
            return getattr(self._ctx, name)

        async def write(self, data: bytes) -> None:
            ts = first_ts(batch_first(data)) if data else None
            await self._ctx.write(data)
            record(self._stage, ts)

    # agent
    from lgr.core.apps.agent import grpc_ingress, router_stream

    if hasattr(grpc_ingress.IngressService, "_accept_batch"):
        accept = grpc_ingress.IngressService._accept_batch

        async def _accept(self, data, context):
            ts = first_ts(batch_first(data)) if data else None
            record("agent.in", ts)
            await accept(self, data, context)
            record("agent.queued", ts)

        grpc_ingress.IngressService._accept_batch = _accept
    else:  # before the pass-through: parsed envelopes
        accept_envs = grpc_ingress.IngressService._accept

        def _accept_envs(self, envelopes):
            ts = envelopes[0].timestamp if envelopes and envelopes[0].source_id.startswith(
                "bench-") else None
            record("agent.in", ts)
            accept_envs(self, envelopes)
            record("agent.queued", ts)

        grpc_ingress.IngressService._accept = _accept_envs
    send = router_stream.RouterStream.send

    def _send(self, data, count):
        record("agent.send", first_ts(batch_first(data)))
        send(self, data, count)

    router_stream.RouterStream.send = _send
    write = router_stream.RouterStream._write

    async def _write(self, data, count, generation):
        ts = first_ts(batch_first(data))
        await write(self, data, count, generation)
        record("agent.written", ts)

    router_stream.RouterStream._write = _write

    # router
    from lgr.core import pubsub
    from lgr.core.apps.router import egress as router_egress
    from lgr.core.apps.router import ingress as router_ingress

    accept_batch = router_ingress.IngressService._accept_batch

    async def _accept_batch(self, batch, context):
        record("router.in", first_ts(batch_first(batch)))
        await accept_batch(self, batch, context)

    router_ingress.IngressService._accept_batch = _accept_batch
    publish_batch = pubsub.PubSub.publish_batch

    def _publish_batch(self, items):
        record("router.publish", first_ts(items[0][0]) if items else None)
        return publish_batch(self, items)

    pubsub.PubSub.publish_batch = _publish_batch

    def wrap_next(cls, stage):
        orig = cls.next_batch

        async def next_batch(self):
            items = await orig(self)
            if items:
                record(stage, first_ts(items[-1]))
            return items

        cls.next_batch = next_batch

    def wrap_handler(cls, stage):
        orig = cls.BatchedReceiver

        @functools.wraps(orig)
        async def handler(self, data, context):
            return await orig(self, data, TimedContext(context, stage))

        cls.BatchedReceiver = handler

    wrap_next(router_egress.SubscriberStream, "router.take")
    wrap_handler(router_egress.EgressService, "router.written")

    # rlp
    from lgr.core.apps.rlp import consumer as rlp_consumer
    from lgr.core.apps.rlp import egress as rlp_egress

    rlp_accept = rlp_consumer.ConsumerStream._accept

    def _rlp_accept(self, batch, addr):
        record("rlp.in", first_ts(batch_first(batch)))
        rlp_accept(self, batch, addr)

    rlp_consumer.ConsumerStream._accept = _rlp_accept
    wrap_next(rlp_consumer.ConsumerStream, "rlp.take")
    wrap_handler(rlp_egress.EgressService, "rlp.written")


# --- the runner ---------------------------------------------------------------------------------

def pct(values: list[int], p: float) -> float:
    return values[min(len(values) - 1, int(p * len(values)))] / 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rate", type=int, default=10000)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--routers", type=int, default=1)
    p.add_argument("--asyncio", action="store_true",
                   help="run the components on asyncio's own loop (LGR_EVENT_LOOP=asyncio)")
    args = p.parse_args()

    with tempfile.TemporaryDirectory(prefix="lgr-hops-") as tmp:
        hooks, traces = Path(tmp) / "hooks", Path(tmp) / "traces"
        hooks.mkdir()
        traces.mkdir()
        (hooks / "sitecustomize.py").write_text(
            "import os\n"
            "if os.environ.get('LGR_HOP_TRACE_DIR'):\n"
            "    import latency_hops\n"
            "    latency_hops.install()\n")
        if args.asyncio:
            os.environ["LGR_EVENT_LOOP"] = "asyncio"
        os.environ["PYTHONPATH"] = os.pathsep.join(
            [str(hooks), str(HERE), str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        os.environ["LGR_HOP_TRACE_DIR"] = str(traces)
        sys.path.insert(0, str(HERE))
        import firehose

        bench = firehose.Bench(args.routers, Path(tmp))
        try:
            started = time.time_ns()
            r = bench.run(args.rate, args.seconds, args.batch)
            ended = time.time_ns()
            firehose.show(r)
        finally:
            bench.stop()
        traced = [json.loads(f.read_text()) for f in traces.glob("*.json")]
        windows = [t["samples"]["_flow"] for t in traced if "_flow" in t["samples"]]
        flow = (min(w[0] for w in windows), max(w[1] for w in windows)) if windows else (
            started, ended)
        merged: dict[str, list[int]] = {}
        for trace in traced:
            who = " ".join(a for a in trace["argv"][1:3] if not a.startswith("-"))
            for stage, values in trace["samples"].items():
                if stage == "_flow":
                    continue
                if stage.startswith("gc"):
                    # while the trial's envelopes flow (not the clients' start-up)
                    values = sorted(d for t, d in values if flow[0] <= t <= flow[1])
                    if values:
                        print(f"{who:<14} {stage}: {len(values)} collections, p50 {pct(values, .5):.3f} ms,"
                              f" max {values[-1] / 1e6:.2f} ms, total {sum(values) / 1e6:.1f} ms")
                    continue
                merged.setdefault(stage, []).extend(values)
        print(f"{'stage':<16}{'batches':>8}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}")
        prev50 = 0.0
        for stage in STAGES:
            values = sorted(merged.get(stage, []))
            if not values:
                print(f"{stage:<16}{'-':>8}")
                continue
            p50 = pct(values, 0.5)
            print(f"{stage:<16}{len(values):>8}{p50:>9.3f}{pct(values, 0.9):>9.3f}"
                  f"{pct(values, 0.99):>9.3f}{values[-1] / 1e6:>9.2f}   (+{p50 - prev50:.3f})")
            prev50 = p50
        print(f"{'consumer':<16}{'':>8}{r['p50_ms']:>9.3f}{'':>9}{r['p99_ms']:>9.3f}"
              f"{r['max_ms']:>9.2f}   (+{r['p50_ms'] - prev50:.3f})")


if __name__ == "__main__":
    main()
