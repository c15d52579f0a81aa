"""Soak benchmark: a long run at a steady rate through agent → router → rlp, with a stalled consumer.

Run (from the repo root, with the project's venv; not part of the test run):

    .venv/bin/python bench/soak.py                 # 30 minutes at 50,000 env/s
    .venv/bin/python bench/soak.py --minutes 3     # a short validation run

The agent, router and rlp are real processes over mTLS (bench/firehose.py's ``Bench``, started
as `lgr up` starts them); the load is bench/firehose_load.py: one emitter at ``--rate``, two
healthy consumers reading every envelope, and one stalled consumer that reads for 5 s, stops
reading (the rlp's buffer for it fills and drops, as a stuck client's would), and disconnects and
reconnects every ``--stall-period`` seconds (60). Every ``--interval`` seconds (60) and at the
end it reports: envelopes/s sent and delivered, the healthy consumers' loss and p50/p99 latency,
CPU % and RSS of the agent, router and rlp, the rlp's and the router's ``subscriptions`` (lowest
and highest of 1 s samples), the stalled consumer's reconnects, and the change of every
``dropped`` counter (the stalled consumer's drops land in the router's and the rlp's egress).

The summary line passes when both healthy consumers lost < 0.1% (``--max-loss``), every
component's RSS slope (MiB/hour, least squares over 5 s samples after the first minute) is under
``--max-slope`` (20 MiB/h; judged only in runs of 10 minutes or more, as a shorter run cannot
tell a leak from the allocator settling), and the rlp's highest subscription count was the same
in every interval and never above 3 (2 healthy + 1 stalled): a stream that leaked its slot would
add one per reconnect. Per interval, "loss so far" counts what is still in flight and the
emitter's count is up to 0.1 s old, so it wobbles by a few hundredths of a percent either way;
the summary's loss, taken after the drain, is exact. Exit status 0 on PASS, 1 on FAIL.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from firehose import LOAD, Bench, proc_usage  # noqa: E402 - bench/ is not a package

CONSUMERS = 2
SLOTS = CONSUMERS + 1  # the rlp streams of the healthy consumers and the stalled one
MIN_RSS_MINUTES = 10  # shorter runs report the RSS slope but do not judge it


def rss_mib(pid: int) -> float:
    """Current resident set size of ``pid`` in MiB (VmRSS)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def slope_per_hour(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MiB) samples, in MiB per hour (0 with fewer than 2)."""
    if len(samples) < 2:
        return 0.0
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_v = sum(v for _, v in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    cov = sum((t - mean_t) * (v - mean_v) for t, v in samples)
    return cov / var * 3600 if var else 0.0


class Load:
    """One load process; its stdout lines (``key value``) are kept as they arrive."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([*LOAD, *args], stdout=subprocess.PIPE, text=True)
        self.last: dict[str, str] = {}
        self.windows: list[dict] = []
        self.result: dict | None = None
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            key, _, value = line.strip().partition(" ")
            if key == "window":
                self.windows.append(json.loads(value))
            elif key.startswith("{"):
                self.result = json.loads(line)
            else:
                self.last[key] = value

    def number(self, key: str) -> int:
        return int(self.last.get(key, "0"))

    def finish(self, timeout: float = 60) -> dict:
        """SIGTERM it (unless it ended), wait, return its final JSON line."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout)
        self._thread.join(10)
        return self.result or {}


class Soak:
    """The stack, the load processes, and the samples taken while it runs."""

    def __init__(self, bench: Bench, args: argparse.Namespace) -> None:
        self.bench, self.args = bench, args
        self.comps = {c.name: c for c in bench.stack.components}
        self.rlp, self.router = self.comps["rlp"], self.comps["router"]
        self.rss: dict[str, list[tuple[float, float]]] = {n: [] for n in self.comps}
        self.subs: list[tuple[float, float, float]] = []  # (t, rlp, router)
        self.max_per_interval: list[float] = []

    def run(self) -> bool:
        a, bench, certs = self.args, self.bench, str(self.bench.certs)
        source = f"soak-{os.getpid()}"
        common = ["--certs", certs, "--source-id", source]
        healthy = [Load("consume", "--rlp", self.rlp.address, "--window", str(a.interval), *common)
                   for _ in range(CONSUMERS)]
        stalled = Load("stall", "--rlp", self.rlp.address, "--period", str(a.stall_period),
                       *common)
        bench._wait(lambda: bench.metric(self.router, "subscriptions") == SLOTS, 30,
                    "every consumer subscribed")
        drops0 = bench.drops()
        emitter = Load("emit", "--agent", self.comps["agent"].address, "--rate", str(a.rate),
                       "--seconds", str(a.minutes * 60), "--batch", "100", "--progress", *common)
        start = time.monotonic()
        cpu = {n: proc_usage(c.child.pid)[0] for n, c in self.comps.items()}
        mark = {"t": start, "sent": 0, "got": [0] * CONSUMERS, "drops": drops0, "cpu": cpu}
        next_report, next_rss, low, high = start + a.interval, start, None, 0.0
        while emitter.proc.poll() is None:
            time.sleep(1.0)
            now = time.monotonic()
            rlp_subs = bench.metric(self.rlp, "subscriptions")
            self.subs.append((now - start, rlp_subs, bench.metric(self.router, "subscriptions")))
            low, high = min(rlp_subs, low if low is not None else rlp_subs), max(high, rlp_subs)
            if now >= next_rss:
                next_rss += 5.0
                for name, comp in self.comps.items():
                    self.rss[name].append((now - start, rss_mib(comp.child.pid)))
            if now >= next_report:
                next_report += a.interval
                self.max_per_interval.append(high)
                mark = self.report(len(self.max_per_interval), mark, emitter, healthy, stalled,
                                   (low, high))
                low, high = None, 0.0
        emitted = emitter.finish()
        sent_total = emitted.get("sent", emitter.number("sent"))
        # Drain: until both healthy consumers have everything, or nothing more arrives for 3 s.
        last, still = -1, time.monotonic()
        while min(c.number("count") for c in healthy) < sent_total \
                and time.monotonic() - still < 3.0:
            got = sum(c.number("count") for c in healthy)
            if got != last:
                last, still = got, time.monotonic()
            time.sleep(0.1)
        if time.monotonic() - mark["t"] >= 10.0 and low is not None:  # the last, partial interval
            self.max_per_interval.append(high)
            self.report(len(self.max_per_interval), mark, emitter, healthy, stalled, (low, high))
        elapsed = emitted.get("elapsed", time.monotonic() - start)
        usage = {n: proc_usage(c.child.pid)[0] - cpu[n] for n, c in self.comps.items()}
        drops = bench.drops()
        finals = [c.finish() for c in healthy]
        stalled.finish()
        return self.summary(sent_total, elapsed, finals, usage, drops0, drops,
                            stalled.number("reconnect"))

    def report(self, n: int, mark: dict, emitter: Load, healthy: list[Load], stalled: Load,
               subs: tuple[float | None, float]) -> dict:
        now = time.monotonic()
        dt = now - mark["t"]
        sent = emitter.number("sent")
        got = [c.number("count") for c in healthy]
        drops = self.bench.drops()
        cpu = {n_: proc_usage(c.child.pid)[0] for n_, c in self.comps.items()}
        parts = []
        for i, c in enumerate(healthy):
            w = c.windows[-1] if c.windows else {}
            # Loss so far: what is still in flight (a few ms of envelopes) counts as lost here;
            # the summary's loss, after the drain, is exact.
            loss = 100.0 * (1 - got[i] / sent) if sent else 0.0
            parts.append(f"c{i + 1} {(got[i] - mark['got'][i]) / dt:,.0f}/s loss so far {loss:.3f}% "
                         f"p50 {w.get('p50_ms', float('nan')):.1f} p99 {w.get('p99_ms', float('nan')):.1f} ms")
        router_subs = [s for _, _, s in self.subs[-int(dt):]] or [0]
        print(f"[{n:>3}] sent {(sent - mark['sent']) / dt:,.0f}/s | " + " | ".join(parts))
        print("      cpu% " + "  ".join(f"{k} {100 * (cpu[k] - mark['cpu'][k]) / dt:.0f}"
                                       for k in cpu)
              + " | rss MiB " + "  ".join(f"{k} {v[-1][1]:.0f}" for k, v in self.rss.items() if v)
              + f" | subscriptions rlp {subs[0]:.0f}..{subs[1]:.0f} router "
              f"{min(router_subs):.0f}..{max(router_subs):.0f} | stalled reconnects "
              f"{stalled.number('reconnect')}")
        moved = {k: drops[k] - mark["drops"].get(k, 0) for k in drops
                 if drops[k] != mark["drops"].get(k, 0)}
        print("      dropped " + ("  ".join(f"{k} {v:,.0f}" for k, v in moved.items()) or "none"),
              flush=True)
        return {"t": now, "sent": sent, "got": got, "drops": drops, "cpu": cpu}

    def summary(self, sent: int, elapsed: float, finals: list[dict], usage: dict[str, float],
                drops0: dict[str, float], drops: dict[str, float], reconnects: int) -> bool:
        a = self.args
        losses = [100.0 * (1 - f.get("received", 0) / sent) if sent else 100.0 for f in finals]
        warm = 60.0 if a.minutes > 1 else 0.0
        slopes = {n: slope_per_hour([s for s in v if s[0] >= warm]) for n, v in self.rss.items()}
        print(f"== soak: {elapsed / 60:.1f} min at {a.rate:,} env/s asked; sent {sent:,} "
              f"({sent / elapsed:,.0f}/s)")
        for i, (f, loss) in enumerate(zip(finals, losses)):
            print(f"consumer {i + 1}: received {f.get('received', 0):,} "
                  f"({f.get('received', 0) / elapsed:,.0f}/s), loss {loss:.4f}%, "
                  f"p50 {f.get('p50_ms', float('nan')):.1f} ms, p99 {f.get('p99_ms', float('nan')):.1f} ms")
        print("cpu % (mean): " + "  ".join(f"{n} {100 * u / elapsed:.0f}" for n, u in usage.items()))
        print("rss MiB first/last, slope after minute 1: " + "  ".join(
            f"{n} {v[0][1]:.0f}/{v[-1][1]:.0f} {slopes[n]:+.1f} MiB/h" for n, v in self.rss.items()
            if v))
        rlp_subs = [s for _, s, _ in self.subs]
        print(f"rlp subscriptions: highest per interval {[int(x) for x in self.max_per_interval]}, "
              f"lowest {min(rlp_subs or [0]):.0f}; stalled consumer reconnects {reconnects}")
        print("dropped (whole run): " + "  ".join(
            f"{k} {drops[k] - drops0.get(k, 0):,.0f}" for k in drops))
        loss_ok = max(losses) < a.max_loss
        # A few minutes of samples cannot tell a leak from the allocator settling.
        judged = a.minutes >= MIN_RSS_MINUTES
        rss_ok = all(s < a.max_slope for s in slopes.values()) or not judged
        slots_ok = bool(self.max_per_interval) and set(self.max_per_interval) == {SLOTS}
        verdict = "PASS" if loss_ok and rss_ok and slots_ok else "FAIL"
        rss_verdict = ("ok" if rss_ok else "no") if judged else \
            f"not judged, run < {MIN_RSS_MINUTES} min"
        print(f"{verdict}: loss {max(losses):.4f}% (< {a.max_loss}%: {'ok' if loss_ok else 'no'}); "
              f"RSS slope max {max(slopes.values()):+.1f} MiB/h (< {a.max_slope}: {rss_verdict}); "
              f"slots constant at {SLOTS}: {'ok' if slots_ok else 'no'}", flush=True)
        if a.json:
            print(json.dumps({"minutes": a.minutes, "rate": a.rate, "sent": sent,
                              "loss_pct": losses, "finals": finals, "rss_slope_mib_h": slopes,
                              "subscriptions_max": self.max_per_interval, "pass": verdict == "PASS"}))
        return verdict == "PASS"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--rate", type=int, default=50_000, help="envelopes/s the emitter sends")
    p.add_argument("--interval", type=float, default=60.0, help="seconds between reports")
    p.add_argument("--stall-period", type=float, default=60.0,
                   help="seconds between the stalled consumer's reconnects")
    p.add_argument("--max-loss", type=float, default=0.1, help="pass: loss %% below this")
    p.add_argument("--max-slope", type=float, default=20.0, help="pass: RSS MiB/hour below this")
    p.add_argument("--json", action="store_true", help="also print the result as a JSON line")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="lgr-soak-") as tmp:
        bench = Bench(1, Path(tmp))
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"host: {os.cpu_count()} cores, load average {load} before start; " + ", ".join(
            f"{c.name} pid {c.child.pid}" for c in bench.stack.components), flush=True)
        try:
            ok = Soak(bench, args).run()
        finally:
            bench.stop()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
