"""Benchmark: one router process, fed BatchSender batches, read by BatchedReceiver subscribers.

Run (from the repo root, with the project's venv):

    .venv/bin/python bench/bench_router.py                      # flat out, 5 s, 2 ingress streams
    .venv/bin/python bench/bench_router.py --rate 200000        # paced at 200k env/s
    .venv/bin/python bench/bench_router.py --subscribers 3      # fan out to 3 subscribers
    .venv/bin/python bench/bench_router.py --rlp                # subscribers read through an rlp
    .venv/bin/python bench/bench_router.py --rlp --deprecated-tags  # ... and the rlp rewrites tags
    .venv/bin/python bench/bench_router.py --profile /tmp/r.prof  # cProfile the router

The router (and with ``--rlp`` a reverse log proxy in front of it) is ``python -m lgr <component>
start``: mTLS on loopback, fresh certificates in a temporary directory. This process is the load:
``--streams`` BatchSender streams sending one pre-serialized batch of 100 log envelopes (~200
bytes each, with agent-style tags) over and over, and ``--subscribers`` BatchedReceiver streams
selecting all logs, counting envelopes off the wire without parsing them. It prints envelopes/s
sent and delivered, loss (1 − delivered/sent per subscriber, after a drain), each component's CPU
seconds and peak RSS, and the drops they counted. Flat out, gRPC flow control paces the senders to
what the router takes in; the router drops (and counts) what its subscribers cannot take.
Not part of the test run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import grpc  # noqa: E402

from lgr.core import certs, tls  # noqa: E402
from lgr.core._proto.loggregator.v2 import egress_pb2, envelope_pb2  # noqa: E402
from lgr.core.envelope import split_batch  # noqa: E402
from lgr.core.grpc_server import identity  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
TAGS = {"deployment": "cf", "job": "diego-cell", "index": "0", "ip": "10.0.16.5",
        "origin": "rep", "source_type": "APP/PROC/WEB"}
SERVER_NAMES = {"router": "doppler", "rlp": "reverselogproxy"}
DROPPED_IN = 'dropped{direction="ingress"}'
DROPPED_OUT = 'dropped{direction="egress"}'


def make_batch(n: int = 100) -> bytes:
    envs = []
    for i in range(n):
        env = envelope_pb2.Envelope(timestamp=time.time_ns(), source_id=f"app-{i % 10}",
                                    instance_id=str(i % 4), tags=TAGS)
        env.log.payload = b"2024-01-01T00:00:00Z INFO request served path=/v2/apps status=200"
        envs.append(env)
    return envelope_pb2.EnvelopeBatch(batch=envs).SerializeToString()


def proc_stats(pid: int) -> tuple[float, int]:
    """(CPU seconds, peak RSS in KiB) of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
    peak = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1])
    return cpu, peak


class Process:
    """A component started as ``python -m lgr KIND start``, logging to a file."""

    def __init__(self, kind: str, pki: Path, env: dict[str, str], profile: str | None) -> None:
        self.kind = kind
        prefix = kind.upper()
        full_env = {**os.environ, f"{prefix}_CA_FILE": str(pki / "ca.crt"),
                    f"{prefix}_CERT_FILE": str(pki / f"{kind}.crt"),
                    f"{prefix}_KEY_FILE": str(pki / f"{kind}.key"), f"{prefix}_PORT": "0",
                    "METRICS_PORT": "0", **env}
        self.log = pki / f"{kind}.log"
        prof = ["-m", "cProfile", "-o", profile] if profile else []
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, *prof, "-m", "lgr", kind, "start"], env=full_env,
                stderr=out, cwd=ROOT)
        self.address = self._wait_for(rf"{kind} grpc bound to: (\S+)")
        self.metrics_url = self._wait_for(rf"{kind} metrics bound to: (\S+)")

    def _wait_for(self, pattern: str) -> str:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if m := re.search(pattern, self.log.read_text()):
                return m.group(1)
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.kind} exited: {self.log.read_text()}")
            time.sleep(0.05)
        raise SystemExit(f"{self.kind} did not start: {self.log.read_text()}")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(15)


def scrape(url: str, pki: Path) -> dict[str, float]:
    context = tls.client_ssl_context(pki / "ca.crt", pki / "client.crt", pki / "client.key")
    context.check_hostname = False
    with urllib.request.urlopen(url, context=context, timeout=5) as resp:
        text = resp.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


async def load(ingress: str, egress: str, egress_name: str, pki: Path,
               args: argparse.Namespace, wait_subscribed) -> dict:
    creds = tls.client_credentials(pki / "ca.crt", pki / "client.crt", pki / "client.key")

    def channel(address: str, name: str) -> grpc.aio.Channel:
        return grpc.aio.secure_channel(address, creds, options=tls.channel_options(name))

    counts = [0] * args.subscribers
    sub_channels = [channel(egress, egress_name) for _ in range(args.subscribers)]
    request = egress_pb2.EgressBatchRequest(selectors=[egress_pb2.Selector(log={})],
                                            use_preferred_tags=not args.deprecated_tags)
    ready = [asyncio.Event() for _ in range(args.subscribers)]

    async def receive(i: int) -> None:
        rpc = sub_channels[i].unary_stream("/loggregator.v2.Egress/BatchedReceiver",
                                           request_serializer=lambda r: r.SerializeToString(),
                                           response_deserializer=identity)
        call = rpc(request)
        await call.initial_metadata()
        ready[i].set()
        async for batch in call:
            counts[i] += len(split_batch(batch))

    readers = [asyncio.ensure_future(receive(i)) for i in range(args.subscribers)]
    for event in ready:
        await event.wait()
    await wait_subscribed()

    batch = make_batch()
    sent = 0
    deadline = time.monotonic() + args.seconds
    per_stream_rate = args.rate / args.streams if args.rate else 0

    async def batches():
        nonlocal sent
        start = time.monotonic()
        n = 0
        while time.monotonic() < deadline:
            if per_stream_rate:
                delay = start + n * 100 / per_stream_rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            n += 1
            sent += 100
            yield batch

    send_channels = [channel(ingress, "doppler") for _ in range(args.streams)]
    senders = [ch.stream_unary("/loggregator.v2.Ingress/BatchSender",
                               request_serializer=identity, response_deserializer=identity)
               for ch in send_channels]
    t0 = time.monotonic()
    await asyncio.gather(*(s(batches()) for s in senders))
    elapsed = time.monotonic() - t0
    last = -1
    while sum(counts) != last:  # drain: until the subscribers stop receiving
        last = sum(counts)
        await asyncio.sleep(0.5)
    for task in readers:
        task.cancel()
    for ch in sub_channels + send_channels:
        await ch.close()
    return {"sent": sent, "elapsed": elapsed, "delivered": counts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=0, help="envelopes/s to send (0: flat out)")
    parser.add_argument("--streams", type=int, default=2, help="BatchSender streams")
    parser.add_argument("--subscribers", type=int, default=1)
    parser.add_argument("--rlp", action="store_true", help="subscribe through an rlp")
    parser.add_argument("--deprecated-tags", action="store_true",
                        help="subscribe with use_preferred_tags=false (the rlp rewrites tags)")
    parser.add_argument("--profile", help="write the router's cProfile stats to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pki = Path(tmp)
        certs.generate_pki(pki, components=("router", "rlp", "client"), days=1)
        procs = [Process("router", pki, {}, args.profile)]
        router = procs[0]
        try:
            if args.rlp:
                procs.append(Process("rlp", pki, {"ROUTER_ADDRS": router.address}, None))
            front = procs[-1]

            async def wait_subscribed() -> None:
                # Until the router serves every subscription (the rlp's are opened for it).
                while scrape(router.metrics_url, pki).get("subscriptions", 0) < args.subscribers:
                    await asyncio.sleep(0.05)

            before = {p.kind: proc_stats(p.proc.pid)[0] for p in procs}
            result = asyncio.run(load(router.address, front.address, SERVER_NAMES[front.kind],
                                      pki, args, wait_subscribed))
            stats = {p.kind: proc_stats(p.proc.pid) for p in procs}
            metrics = {p.kind: scrape(p.metrics_url, pki) for p in procs}
        finally:
            for p in reversed(procs):
                p.stop()
    sent, elapsed = result["sent"], result["elapsed"]
    path = "router → rlp" if args.rlp else "router"
    print(f"{path} bench: {args.streams} ingress streams, {args.subscribers} subscriber(s), "
          f"{'flat out' if not args.rate else f'{args.rate:,.0f} env/s asked'}, {elapsed:.1f}s")
    print(f"  sent          {sent:>10,}  {sent / elapsed:>10,.0f} env/s")
    for i, got in enumerate(result["delivered"]):
        loss = 1 - got / sent if sent else 0.0
        print(f"  subscriber {i}  {got:>10,}  {got / elapsed:>10,.0f} env/s  loss {loss:.2%}")
    for kind, (cpu, peak) in stats.items():
        m = metrics[kind]
        busy = cpu - before[kind]
        print(f"  {kind:<6} CPU {busy:.2f}s ({busy / elapsed:.0%} of a core), peak RSS "
              f"{peak / 1024:.0f} MiB; ingress {m.get('ingress', 0):,.0f}, egress "
              f"{m.get('egress', 0):,.0f}, dropped ingress {m.get(DROPPED_IN, 0):,.0f}, "
              f"dropped egress {m.get(DROPPED_OUT, 0):,.0f}")
    print(f"  bench process CPU {time.process_time():.2f}s")


if __name__ == "__main__":
    main()
