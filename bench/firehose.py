"""Benchmark: the firehose end to end — emitter → agent → router(s) → rlp → consumer, as processes.

Run (from the repo root, with the project's venv):

    .venv/bin/python bench/firehose.py --rate 10000 --seconds 5            # one fixed-rate trial
    .venv/bin/python bench/firehose.py --mode latency                      # 10k env/s
    .venv/bin/python bench/firehose.py --mode max --seconds 5 --routers 1  # highest rate at < 1% loss
    .venv/bin/python bench/firehose.py --mode rss                          # agent RSS, full buffers
    .venv/bin/python bench/firehose.py --mode all                          # latency, rss, then max

Every hop is mTLS on loopback, each part its own process: the agent, router(s) and rlp are
``python -m lgr <component> start`` (started by lgr.core.stack, as `lgr up` does); the emitter
and the consumer are ``bench/firehose_load.py`` subprocesses. The emitter streams BatchSender
batches to the agent at the asked rate, stamping each envelope's ``timestamp`` with the time it
is sent; the consumer reads BatchedReceiver from the rlp and records, per envelope, now minus
that timestamp. Per trial it prints envelopes sent and delivered per second, loss
(1 − delivered/sent, after a drain), p50/p99/max latency, each process's CPU seconds (from
/proc/PID/stat) and its peak RSS (VmHWM), and the drops each component counted.

Rss mode stops the routers (SIGSTOP) and floods the agent with 1 KiB logs at 50k/s, so its
ingress buffer and its streams' gRPC buffers are full, and reports its peak RSS.

Max mode doubles the asked rate until a trial loses 1% or more, or the emitter cannot reach the
asked rate (marked ``*``: the agent is not reading fast enough and gRPC flow control slows the
emitter, so the pipeline is saturated), then bisects; it reports the passing trial (< 1% loss) that
delivered the most envelopes per second. Not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LOAD = [sys.executable, str(Path(__file__).resolve().with_name("firehose_load.py"))]  # emitter, consumer
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# --- the runner -----------------------------------------------------------------------------

def proc_usage(pid: int) -> tuple[float, float]:
    """(CPU seconds, peak RSS MiB) of a running process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
    hwm = 0.0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    return cpu, hwm


def host_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


class Bench:
    """A running stack plus what it takes to run trials against it."""

    def __init__(self, routers: int, workdir: Path, router_buffer: int = 0) -> None:
        from lgr.core.certs import generate_pki
        from lgr.core.stack import Stack, StackConfig

        self.certs = workdir / "certs"
        generate_pki(self.certs, components=("agent", "router", "rlp", "client"))
        config = StackConfig(
            certs_dir=self.certs, log_dir=workdir / "logs", routers=routers, router_port=0,
            agent_port=0, udp_port=0, rlp_port=0, agent_metrics_port=0, router_metrics_port=0,
            rlp_metrics_port=0,
            extra_env={"router": {"LGR_ROUTER_SUBSCRIBER_BUFFER_SIZE": str(router_buffer)}}
            if router_buffer else {},
        )
        self.stack = Stack(config)
        self.stack.start()
        self.trial = 0
        ctx = ssl.create_default_context(cafile=str(self.certs / "ca.crt"))
        ctx.load_cert_chain(str(self.certs / "client.crt"), str(self.certs / "client.key"))
        self._ssl = ctx

    def metric(self, comp, name: str, **labels: str) -> float:
        with urllib.request.urlopen(comp.metrics_url, context=self._ssl, timeout=5) as resp:
            text = resp.read().decode()
        total = 0.0
        for line in text.splitlines():
            if not line.startswith(name) or line.startswith("#"):
                continue
            head, _, value = line.rpartition(" ")
            metric, _, lbls = head.partition("{")
            if metric == name and all(f'{k}="{v}"' in lbls for k, v in labels.items()):
                total += float(value)
        return total

    def _subscriptions(self) -> list[float]:
        return [self.metric(r, "subscriptions") for r in self.stack.of_kind("router")]

    def _wait(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise SystemExit(f"bench: {what} not within {timeout}s")
            time.sleep(0.05)

    def _quiesce(self, timeout: float = 15.0) -> None:
        """Wait until the previous trial's backlog is gone: the agent's egress holds still."""
        agent = self.stack.of_kind("agent")[0]
        last, since, deadline = -1.0, time.monotonic(), time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = self.metric(agent, "egress")
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= 0.5:
                return
            time.sleep(0.1)

    def drops(self) -> dict[str, float]:
        out = {}
        for comp in self.stack.components:
            for direction in ("ingress", "egress"):
                out[f"{comp.name}/{direction}"] = self.metric(comp, "dropped", direction=direction)
        return out

    def run(self, rate: int, seconds: float, batch: int, payload_bytes: int = 0) -> dict:
        self.trial += 1
        source = f"bench-{os.getpid()}-{self.trial}"
        script = LOAD
        self._wait(lambda: all(s == 0 for s in self._subscriptions()), 10, "old subscriptions gone")
        self._quiesce()
        consumer = subprocess.Popen(
            [*script, "consume", "--rlp", self.stack.of_kind("rlp")[0].address,
             "--certs", str(self.certs), "--source-id", source],
            stdout=subprocess.PIPE, text=True,
        )
        counts = {"n": 0}
        lines: list[str] = []

        def read() -> None:
            assert consumer.stdout is not None
            for line in consumer.stdout:
                if line.startswith("count "):
                    counts["n"] = int(line.split()[1])
                else:
                    lines.append(line)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        self._wait(lambda: all(s >= 1 for s in self._subscriptions()), 10, "consumer subscribed")
        drops_before = self.drops()
        before = {c.name: proc_usage(c.child.pid)[0] for c in self.stack.components}
        host_before = host_cpu()
        emitter = subprocess.run(
            [*script, "emit", "--agent", self.stack.of_kind("agent")[0].address,
             "--certs", str(self.certs), "--source-id", source, "--rate", str(rate),
             "--seconds", str(seconds), "--batch", str(batch), "--payload-bytes", str(payload_bytes)],
            capture_output=True, text=True, timeout=seconds + 60,
        )
        if emitter.returncode != 0:
            raise SystemExit(f"bench: emitter failed:\n{emitter.stderr}")
        sent = json.loads(emitter.stdout.strip().splitlines()[-1])
        # Drain: until everything arrived, or nothing more arrives for a second.
        last, still_since = -1, time.monotonic()
        while counts["n"] < sent["sent"] and time.monotonic() - still_since < 1.0:
            if counts["n"] != last:
                last, still_since = counts["n"], time.monotonic()
            time.sleep(0.05)
        host_after = host_cpu()
        usage = {c.name: proc_usage(c.child.pid) for c in self.stack.components}
        drops_after = self.drops()
        consumer.send_signal(signal.SIGTERM)
        consumer.wait(30)
        reader.join(5)
        got = json.loads(lines[-1])
        return {
            "rate": rate, "batch": batch, "seconds": seconds,
            "sent": sent["sent"], "sent_per_s": sent["sent"] / sent["elapsed"],
            "delivered": got["received"], "delivered_per_s": got["received"] / sent["elapsed"],
            "loss_pct": 100.0 * (1 - got["received"] / sent["sent"]) if sent["sent"] else 0.0,
            "p50_ms": got["p50_ms"], "p99_ms": got["p99_ms"], "max_ms": got["max_ms"],
            "cpu_s": {**{n: u[0] - before[n] for n, u in usage.items()},
                      "emitter": sent["cpu_s"], "consumer": got["cpu_s"]},
            "peak_rss_mib": {**{n: u[1] for n, u in usage.items()},
                             "emitter": sent["peak_rss_mib"], "consumer": got["peak_rss_mib"]},
            "host_busy_pct": 100.0 * (host_after[0] - host_before[0])
            / max(1, host_after[1] - host_before[1]),
            "drops": {k: drops_after[k] - drops_before.get(k, 0) for k in drops_after
                      if drops_after[k] - drops_before.get(k, 0)},
        }

    def fill_agent(self, seconds: float) -> dict:
        """Stop every router (SIGSTOP), flood the agent, report its peak RSS; then resume them."""
        routers = self.stack.of_kind("router")
        agent = self.stack.of_kind("agent")[0]
        for r in routers:
            r.child.signal(signal.SIGSTOP)
        try:
            emitter = subprocess.run(
                [*LOAD, "emit", "--agent", agent.address,
                 "--certs", str(self.certs), "--source-id", "bench-fill", "--rate", "50000",
                 "--seconds", str(seconds), "--payload-bytes", "1024"],
                capture_output=True, text=True, timeout=seconds + 60,
            )
            sent = json.loads(emitter.stdout.strip().splitlines()[-1])["sent"]
            rss = proc_usage(agent.child.pid)[1]
            dropped = self.metric(agent, "dropped", direction="ingress") + self.metric(
                agent, "dropped", direction="egress")
        finally:
            for r in routers:
                r.child.signal(signal.SIGCONT)
        return {"mode": "rss", "sent": sent, "agent_peak_rss_mib": rss, "agent_dropped": dropped}

    def stop(self) -> None:
        self.stack.stop(5)


def passes(r: dict) -> bool:
    """Loss under 1%."""
    return r["loss_pct"] < 1.0


def saturated(r: dict) -> bool:
    """The emitter could not send at the asked rate: the agent pushed back (gRPC flow control)."""
    return r["sent_per_s"] < 0.97 * r["rate"]


def show(r: dict) -> None:
    ok = ("ok  " if passes(r) else "LOSS") + ("*" if saturated(r) else " ")
    print(f"{ok}rate {r['rate']:>7}/s (batch {r['batch']}): sent {r['sent_per_s']:>9.0f}/s  "
          f"delivered {r['delivered_per_s']:>9.0f}/s  loss {r['loss_pct']:6.2f}%  "
          f"latency p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  max {r['max_ms']:.1f} ms")
    print("      cpu s: " + "  ".join(f"{n} {v:.2f}" for n, v in r["cpu_s"].items())
          + f"   (host busy {r['host_busy_pct']:.0f}% of {os.cpu_count()} cores)")
    print("      peak RSS MiB: " + "  ".join(f"{n} {v:.0f}" for n, v in r["peak_rss_mib"].items()))
    if r["drops"]:
        print("      drops: " + "  ".join(f"{k} {v:.0f}" for k, v in r["drops"].items()))
    sys.stdout.flush()


def find_max(bench: Bench, seconds: float, batch: int, start: int) -> dict | None:
    """The passing trial (< 1% loss) that delivered most, searching asked rates.

    Doubles from ``start`` until a trial loses 1% or more, or the agent pushes back so the
    emitter cannot reach the asked rate; then bisects up to three times between the last good
    and the first bad rate.
    """
    trials: list[dict] = []
    rate, good, bad = start, 0, None
    while bad is None and rate <= 2_000_000:
        r = bench.run(rate, seconds, batch)
        show(r)
        trials.append(r)
        if passes(r) and not saturated(r):
            good, rate = rate, rate * 2
        else:
            bad = rate
    for _ in range(3):
        if bad is None:
            break
        mid = (good + bad) // 2
        if mid <= good or (bad - good) < max(2000, good // 20):
            break
        r = bench.run(mid, seconds, batch)
        show(r)
        trials.append(r)
        if passes(r) and not saturated(r):
            good = mid
        else:
            bad = mid
    passing = [r for r in trials if passes(r)]
    return max(passing, key=lambda r: r["delivered_per_s"]) if passing else None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=("fixed", "latency", "max", "rss", "all"), default="fixed")
    p.add_argument("--rate", type=int, default=10000, help="envelopes/s for --mode fixed")
    p.add_argument("--seconds", type=float, default=5.0, help="length of each trial")
    p.add_argument("--routers", type=int, default=1)
    p.add_argument("--batch", type=int, default=0,
                   help="envelopes per emitter batch (default: 100)")
    p.add_argument("--start-rate", type=int, default=25000, help="first rate tried by --mode max")
    p.add_argument("--router-buffer", type=int, default=0,
                   help="router's per-subscription buffer (LGR_ROUTER_SUBSCRIBER_BUFFER_SIZE; "
                   "default: the router's own, upstream's 1000)")
    p.add_argument("--json", action="store_true", help="also print each trial as a JSON line")
    args = p.parse_args()

    with tempfile.TemporaryDirectory(prefix="lgr-bench-") as tmp:
        bench = Bench(args.routers, Path(tmp), args.router_buffer)
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"host: {os.cpu_count()} cores, load average {load} before start", flush=True)
        print(f"stack: {args.routers} router(s); " + ", ".join(
            f"{c.name} {c.address} pid {c.child.pid}" for c in bench.stack.components), flush=True)
        results = []
        try:
            if args.mode in ("latency", "all"):
                print("== fixed-rate latency: 10000 env/s")
                r = bench.run(10000, args.seconds, args.batch or 100)
                show(r)
                results.append(r)
            if args.mode == "fixed":
                r = bench.run(args.rate, args.seconds, args.batch or 100)
                show(r)
                results.append(r)
            if args.mode in ("rss", "all"):
                print("== agent memory with full buffers: routers stopped (SIGSTOP), 1 KiB logs")
                r = bench.fill_agent(args.seconds)
                print(f"agent peak RSS {r['agent_peak_rss_mib']:.0f} MiB after {r['sent']} envelopes "
                      f"({r['agent_dropped']:.0f} dropped by the agent)")
                results.append(r)
            if args.mode in ("max", "all"):
                print("== max throughput at < 1% loss")
                best = find_max(bench, args.seconds, args.batch or 100, args.start_rate)
                if best:
                    print(f"max: {best['delivered_per_s']:.0f} env/s delivered at "
                          f"{best['loss_pct']:.2f}% loss (asked {best['rate']}/s)")
                    results.append(best)
                else:
                    print("max: no rate passed")
        finally:
            bench.stop()
        if args.json:
            for r in results:
                print(json.dumps(r))


if __name__ == "__main__":
    main()
