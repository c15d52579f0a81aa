"""The firehose benchmark's load: its emitter and its consumer, each run as its own process.

    python bench/firehose_load.py emit --agent ADDR --certs DIR --source-id ID --rate N --seconds S
    python bench/firehose_load.py consume --rlp ADDR --certs DIR --source-id ID
    python bench/firehose_load.py stall --rlp ADDR --certs DIR --source-id ID --period 60

bench/firehose.py and bench/soak.py start them. The emitter streams BatchSender batches to the
agent at the asked rate, stamping each envelope's ``timestamp`` with the time it is sent, and
prints one JSON line (sent, elapsed, its CPU seconds and peak RSS); with ``--progress`` also a
``sent N`` line every 0.1 s. The consumer reads BatchedReceiver from the rlp, prints ``count N``
lines while running and, on SIGTERM, one JSON line with what it received and the p50/p99/max of
now minus each envelope's timestamp (``LGR_BENCH_DUMP=FILE`` also writes every latency, in ns, as
int64s). With ``--window S`` it prints a ``window {...}`` JSON line every S seconds (received,
p50/p99/max of that window) and keeps only every 10th latency for the final line, so a long run
holds little memory. The stalled consumer reads for ``--read-seconds``, then stops reading (the
rlp's buffer for it fills and drops), and at the end of each ``--period`` disconnects (new
connection) and starts over; it prints a ``reconnect N`` line each time.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from array import array
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAYLOAD = b"2024-01-01T00:00:00.000Z INFO request served path=/v2/apps status=200 duration=1.2ms  "


# --- wire helpers (the emitter builds envelope bytes directly: no per-envelope protobuf work) ---

def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _envelope_tail(source_id: str, payload_bytes: int = 0) -> bytes:
    """Everything of the benchmark's log envelope but its timestamp (field 1, written first)."""
    from lgr.core import envelope

    payload = (PAYLOAD * (payload_bytes // len(PAYLOAD) + 1))[:payload_bytes] if payload_bytes else PAYLOAD
    env = envelope.log(payload, source_id=source_id, instance_id="0", timestamp=0,
                       tags={"origin": "bench", "job": "firehose"})
    env.ClearField("timestamp")
    return env.SerializeToString()


def _channel(address: str, certs: Path, server_name: str):
    import grpc

    from lgr.core.tls import channel_options, client_credentials

    creds = client_credentials(certs / "ca.crt", certs / "client.crt", certs / "client.key")
    return grpc.secure_channel(address, creds, options=channel_options(server_name))


def _cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def _self_usage(cpu_at_start: float) -> dict[str, float]:
    """CPU seconds since ``cpu_at_start`` (interpreter start-up excluded) and peak RSS."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"cpu_s": _cpu_s() - cpu_at_start, "peak_rss_mib": peak}


# --- emitter process ------------------------------------------------------------------------

def emit_main(args: argparse.Namespace) -> None:
    """Send ``rate`` env/s for ``seconds`` in batches of ``batch``; print a JSON result line."""
    from lgr.core.grpc_server import identity

    tail = _envelope_tail(args.source_id, args.payload_bytes)
    channel = _channel(args.agent, Path(args.certs), "metron")
    sender = channel.stream_unary("/loggregator.v2.Ingress/BatchSender",
                                  request_serializer=identity, response_deserializer=identity)
    # Connect (TCP and the mTLS handshake) before the clock starts: connection set-up is not
    # envelope latency.
    import grpc

    grpc.channel_ready_future(channel).result(timeout=10)
    sent = 0
    interval = args.batch / args.rate
    cpu_start = _cpu_s()
    started = time.monotonic()
    deadline = started + args.seconds

    def batches():
        nonlocal sent
        next_at = time.monotonic()
        progress_at = next_at + 0.1
        while True:
            now = time.monotonic()
            if now >= deadline:
                return
            if args.progress and now >= progress_at:
                print(f"sent {sent}", flush=True)
                progress_at += 0.1
            if next_at > now:
                time.sleep(next_at - now)
            next_at += interval
            env = b"\x08" + _varint(time.time_ns()) + tail
            item = b"\x0a" + _varint(len(env)) + env
            yield item * args.batch
            sent += args.batch

    sender(batches(), timeout=args.seconds + 30)
    elapsed = time.monotonic() - started
    channel.close()
    print(json.dumps({"sent": sent, "elapsed": elapsed, **_self_usage(cpu_start)}), flush=True)


# --- consumer process -----------------------------------------------------------------------

def consume_main(args: argparse.Namespace) -> None:
    """Read the rlp until SIGTERM; print ``count N`` lines while running, then a JSON result line."""
    import grpc

    from lgr.core._proto.loggregator.v2 import egress_pb2, envelope_pb2

    channel = _channel(args.rlp, Path(args.certs), "reverselogproxy")
    receiver = channel.unary_stream("/loggregator.v2.Egress/BatchedReceiver",
                                    request_serializer=egress_pb2.EgressBatchRequest.SerializeToString,
                                    response_deserializer=envelope_pb2.EnvelopeBatch.FromString)
    sel = egress_pb2.Selector(source_id=args.source_id)
    sel.log.SetInParent()
    # use_preferred_tags as current consumers (cf tail, log cache) ask; false makes the rlp rewrite
    # every envelope's tags into deprecated_tags.
    call = receiver(egress_pb2.EgressBatchRequest(selectors=[sel], use_preferred_tags=True))
    cpu_start = _cpu_s()
    latencies = array("q")  # every latency; with --window, every 10th
    window = array("q")
    lock = threading.Lock()
    count = 0
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: (stop.set(), call.cancel()))

    def report() -> None:
        nonlocal window
        window_at = time.monotonic() + (args.window or 0)
        while not stop.wait(0.1):
            print(f"count {count}", flush=True)
            if args.window and time.monotonic() >= window_at:
                window_at += args.window
                with lock:
                    done, window = window, array("q")
                print("window " + json.dumps({"received": len(done), **_percentiles(done)}),
                      flush=True)

    threading.Thread(target=report, daemon=True).start()
    print("count 0", flush=True)
    try:
        for batch in call:
            now = time.time_ns()
            lat = [now - e.timestamp for e in batch.batch]
            if args.window:
                with lock:
                    window.extend(lat)
                latencies.extend(lat[::10])
            else:
                latencies.extend(lat)
            count += len(lat)
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.CANCELLED:
            print(f"error {exc.code().name}: {exc.details()}", file=sys.stderr, flush=True)
    stop.set()
    if os.environ.get("LGR_BENCH_DUMP"):
        with open(os.environ["LGR_BENCH_DUMP"], "wb") as f:
            latencies.tofile(f)
    result = {"received": count, **_percentiles(latencies), **_self_usage(cpu_start)}
    print(json.dumps(result), flush=True)


def _percentiles(latencies: array) -> dict[str, float]:
    """p50, p99 and max of latencies in ns, as ms (NaN when there are none)."""
    lat = sorted(latencies)

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] / 1e6 if lat else float("nan")

    return {"p50_ms": pct(0.50), "p99_ms": pct(0.99),
            "max_ms": lat[-1] / 1e6 if lat else float("nan")}


# --- stalled consumer process ---------------------------------------------------------------

def stall_main(args: argparse.Namespace) -> None:
    """Read for a while, stop reading, disconnect at the end of each period; until SIGTERM."""
    from lgr.core._proto.loggregator.v2 import egress_pb2

    stop = threading.Event()
    current: dict = {}

    def on_term(*_: object) -> None:
        stop.set()
        if current.get("call") is not None:
            current["call"].cancel()

    signal.signal(signal.SIGTERM, on_term)
    sel = egress_pb2.Selector(source_id=args.source_id)
    sel.log.SetInParent()
    request = egress_pb2.EgressBatchRequest(selectors=[sel], use_preferred_tags=True)
    reconnects = 0
    while not stop.is_set():
        channel = _channel(args.rlp, Path(args.certs), "reverselogproxy")  # a new connection
        receiver = channel.unary_stream("/loggregator.v2.Egress/BatchedReceiver",
                                        request_serializer=egress_pb2.EgressBatchRequest.SerializeToString,
                                        response_deserializer=lambda b: b)
        call = current["call"] = receiver(request)
        period_end = time.monotonic() + args.period
        read_until = time.monotonic() + args.read_seconds
        try:
            for _ in call:
                if time.monotonic() >= read_until or stop.is_set():
                    break
        except Exception as exc:  # noqa: BLE001 - a refused or broken stream: say so, go on
            if not stop.is_set():
                print(f"error {exc}", file=sys.stderr, flush=True)
        stop.wait(max(0.0, period_end - time.monotonic()))  # stalled: the stream stays open
        call.cancel()
        channel.close()
        reconnects += 1
        print(f"reconnect {reconnects}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    roles = p.add_subparsers(dest="role", required=True)
    emit = roles.add_parser("emit")
    emit.add_argument("--agent", required=True)
    emit.add_argument("--rate", type=int, required=True)
    emit.add_argument("--seconds", type=float, required=True)
    emit.add_argument("--batch", type=int, default=100)
    emit.add_argument("--payload-bytes", type=int, default=0)
    emit.add_argument("--progress", action="store_true", help="print `sent N` every 0.1 s")
    consume = roles.add_parser("consume")
    consume.add_argument("--rlp", required=True)
    consume.add_argument("--window", type=float, default=0.0,
                         help="print a window line every this many seconds")
    stall = roles.add_parser("stall")
    stall.add_argument("--rlp", required=True)
    stall.add_argument("--period", type=float, default=60.0,
                       help="seconds between reconnects")
    stall.add_argument("--read-seconds", type=float, default=5.0,
                       help="seconds it reads after each connect before it stalls")
    for role in (emit, consume, stall):
        role.add_argument("--certs", required=True)
        role.add_argument("--source-id", required=True)
    args = p.parse_args()
    {"emit": emit_main, "consume": consume_main, "stall": stall_main}[args.role](args)


if __name__ == "__main__":
    main()
