"""Benchmark: v2 → v1 frame conversion (FrameEncoder.convert, as the router's V2ToV1); prints env/s.

Run: .venv/bin/python bench/bench_tc_frames.py [--seconds 1.0]

Two router batches of 100 envelopes (those of bench_protojson.py): ``logs`` (app log lines of ten
instances, seven tags) and ``mixed`` (logs, counters, gauges, timers and events, a fifth each).
Each is converted from its wire bytes to v1 frames, as the router does for v1 subscribers (the
traffic controller's websockets), with the log shortcut (lgr.core.conversion.logframes) and without it (every
envelope through to_v1 + marshal_v1, as before it existed).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_protojson import logs, mixed  # noqa: E402

from lgr.core import envelope as E  # noqa: E402
from lgr.core._proto.loggregator.v2 import envelope_pb2  # noqa: E402
from lgr.core.apps.tc.frames import FrameEncoder  # noqa: E402
from lgr.core.apps.tc.metrics import TcMetrics  # noqa: E402
from lgr.core.metrics import Registry  # noqa: E402


parse = envelope_pb2.EnvelopeBatch.FromString


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
    shortcut = FrameEncoder(TcMetrics(Registry()))
    plain = FrameEncoder(TcMetrics(Registry()))
    plain._logs.frame = lambda env: None  # type: ignore[method-assign]  # every log via to_v1
    for name, make in (("logs", logs), ("mixed", mixed)):
        wire = E.join_batch(e.SerializeToString() for e in make())
        fast = rate(lambda w=wire: shortcut.convert(parse(w).batch), 100, args.seconds)
        slow = rate(lambda w=wire: plain.convert(parse(w).batch), 100, args.seconds)
        print(f"{name:<6} frames {fast:>10,.0f} env/s   (all through to_v1: {slow:>10,.0f} env/s)")


if __name__ == "__main__":
    main()
