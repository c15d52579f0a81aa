"""Benchmark: the agent alone — v1 UDP datagrams/s accepted, v2 BatchSender envelopes/s forwarded
to a sink router, and the agent's RSS with full buffers.

Run (from the repo root): .venv/bin/python bench/bench_agent.py [--seconds 5] [--udp-rates 50000,100000,0]

Every part is its own process: the agent is ``python -m lgr agent start`` (mTLS, as deployed); the
sink router, the gRPC emitter and the UDP emitter are this script's ``_sink``, ``_emit_grpc`` and
``_emit_udp`` modes. The sink is a real mTLS Ingress and DopplerIngestor server that counts envelopes
without parsing them (v1 ones over lgr's BatchPusher, many a message). Phases:

1. grpc — one emitter streams batches of 100 log envelopes over BatchSender as fast as gRPC flow
   control lets it; prints sent/s, forwarded/s (counted at the sink) and the agent's drops.
2. udp — the emitter sends dropsonde LogMessage datagrams at each asked rate (0 = as fast as it
   can); prints sent/s, accepted/s (the agent's ingress{metric_version="1.0"}) and loss.
3. rss — the sink stops reading (its streams stall, so the agent's streams and its 10000-envelope
   diode fill up); prints the agent's VmRSS and VmHWM after a burst that overflows the diode.

Not part of the test run; the numbers depend on the machine (the issue's targets assume 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
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

PAYLOAD = b"2024-01-01T00:00:00.000Z INFO request served path=/v2/apps status=200 duration=1.2ms  "


# --- child modes ------------------------------------------------------------------------------

def sink(args: argparse.Namespace) -> None:
    """An mTLS Ingress server that counts envelopes (or, after SIGUSR1, stops reading)."""
    import asyncio

    import grpc

    from lgr.core import tls
    from lgr.core.envelope import split_batch
    from lgr.core.grpc_server import identity, start_server

    count = [0]
    stalled = asyncio.Event()

    async def batch_sender(requests, context):
        async for data in requests:
            count[0] += len(split_batch(data))
            if stalled.is_set():
                await asyncio.Event().wait()  # never read again: gRPC flow control backs up
        return b""

    async def pusher(requests, context):
        async for _ in requests:  # one v1 envelope per EnvelopeData
            count[0] += 1
        return b""

    async def batch_pusher(requests, context):  # lgr's: many v1 envelopes a message
        async for data in requests:
            count[0] += len(split_batch(data))
        return b""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, stalled.set)
        handler = grpc.method_handlers_generic_handler("loggregator.v2.Ingress", {
            "BatchSender": grpc.stream_unary_rpc_method_handler(
                batch_sender, request_deserializer=identity, response_serializer=identity),
        })
        v1 = grpc.method_handlers_generic_handler("plumbing.DopplerIngestor", {
            "Pusher": grpc.stream_unary_rpc_method_handler(
                pusher, request_deserializer=identity, response_serializer=identity),
        })
        v1_batched = grpc.method_handlers_generic_handler("lgr.plumbing.DopplerIngestor", {
            "BatchPusher": grpc.stream_unary_rpc_method_handler(
                batch_pusher, request_deserializer=identity, response_serializer=identity),
        })
        creds = tls.server_credentials(*_files(args.certs, "router"))
        _, port = await start_server([handler, v1, v1_batched], "127.0.0.1", 0, creds, "sink")
        print(port, flush=True)
        out = Path(args.count_file)
        while True:
            out.write_text(str(count[0]))
            await asyncio.sleep(0.05)

    asyncio.run(main())


def emit_grpc(args: argparse.Namespace) -> None:
    """Stream pre-serialized batches of 100 to the agent for ``--seconds``; print how many went."""
    import asyncio

    import grpc

    from lgr.core import envelope as E
    from lgr.core import tls
    from lgr.core.envelope import join_batch
    from lgr.core.grpc_server import identity

    envs = [E.log(PAYLOAD, source_id=f"app-{i % 10}", instance_id="0",
                  tags={"origin": "bench", "deployment": "cf"}).SerializeToString() for i in range(100)]
    batch = join_batch(envs)

    async def main() -> None:
        creds = tls.client_credentials(*_files(args.certs, "client"))
        async with grpc.aio.secure_channel(
            f"127.0.0.1:{args.port}", creds, options=tls.channel_options(tls.AGENT_SERVER_NAME)
        ) as channel:
            call = channel.stream_unary("/loggregator.v2.Ingress/BatchSender",
                                        request_serializer=identity, response_deserializer=identity)()
            sent = 0
            start = time.perf_counter()
            end = start + args.seconds
            while time.perf_counter() < end:
                await call.write(batch)
                sent += 100
            elapsed = time.perf_counter() - start
            await call.done_writing()
            await call
        print(json.dumps({"sent": sent, "seconds": elapsed}), flush=True)

    asyncio.run(main())


def emit_udp(args: argparse.Namespace) -> None:
    """Send dropsonde LogMessages at ``--rate`` per second (0: flat out); print how many went."""
    from lgr.core._proto.events import envelope_pb2 as v1
    from lgr.core._proto.events import log_pb2

    data = v1.Envelope(
        origin="bench", eventType=v1.Envelope.LogMessage, timestamp=time.time_ns(),
        logMessage=log_pb2.LogMessage(message=PAYLOAD, message_type=log_pb2.LogMessage.OUT,
                                      timestamp=time.time_ns(), app_id="app-guid",
                                      source_type="APP/PROC/WEB", source_instance="0"),
    ).SerializeToString()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect(("127.0.0.1", args.port))
    send = sock.send
    sent = 0
    start = time.perf_counter()
    end = start + args.seconds
    chunk = 100
    while True:
        now = time.perf_counter()
        if now >= end:
            break
        if args.rate:
            due = int((now - start) * args.rate)
            if sent >= due:
                time.sleep(min(0.001, end - now))
                continue
        for _ in range(chunk):
            try:
                send(data)
            except OSError:  # ECONNREFUSED from an earlier ICMP, or a full send buffer
                pass
        sent += chunk
    print(json.dumps({"sent": sent, "seconds": time.perf_counter() - start}), flush=True)


# --- driver -------------------------------------------------------------------------------------

def _files(certs_dir: str, name: str) -> tuple[str, str, str]:
    d = Path(certs_dir)
    return str(d / "ca.crt"), str(d / f"{name}.crt"), str(d / f"{name}.key")


def _child(mode: str, *extra: str, stdout=subprocess.PIPE) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, mode, *extra], stdout=stdout, text=True)


class AgentProcess:
    """`lgr agent start` with every port chosen by the OS; knows its ports and reads its metrics."""

    def __init__(self, certs_dir: str, router: str) -> None:
        ca, cert, key = _files(certs_dir, "agent")
        env = {**os.environ, "ROUTER_ADDR": router, "AGENT_CA_FILE": ca, "AGENT_CERT_FILE": cert,
               "AGENT_KEY_FILE": key, "AGENT_PORT": "0", "AGENT_INCOMING_UDP_PORT": "0",
               "METRICS_PORT": "0"}
        self.proc = subprocess.Popen([sys.executable, "-m", "lgr", "agent", "start"], env=env,
                                     stderr=subprocess.PIPE, text=True)
        self.grpc_port = self.udp_port = self.metrics_url = None
        deadline = time.monotonic() + 20
        while self.grpc_port is None or self.udp_port is None or self.metrics_url is None:
            line = self.proc.stderr.readline()
            if not line or time.monotonic() > deadline:
                raise SystemExit(f"agent did not start: {line}")
            if m := re.search(r"agent grpc bound to: [\d.]+:(\d+)", line):
                self.grpc_port = int(m.group(1))
            if m := re.search(r"agent udp bound to: [\d.]+:(\d+)", line):
                self.udp_port = int(m.group(1))
            if m := re.search(r"metrics bound to: (\S+)", line):
                self.metrics_url = m.group(1)
        # Keep draining stderr so the agent never blocks on a full pipe.
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()
        self._ssl = ssl.create_default_context(cafile=_files(certs_dir, "client")[0])
        self._ssl.load_cert_chain(*_files(certs_dir, "client")[1:])
        self._ssl.check_hostname = False

    def metrics(self) -> dict[str, float]:
        with urllib.request.urlopen(self.metrics_url, context=self._ssl, timeout=5) as resp:
            text = resp.read().decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out

    def memory(self) -> dict[str, float]:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return {k: int(re.search(rf"{k}:\s+(\d+)", status).group(1)) / 1024 for k in ("VmRSS", "VmHWM")}

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _wait_count(path: Path, stable_for: float = 0.5, timeout: float = 30) -> int:
    """The sink's count once it has stopped changing."""
    last, since = -1, time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        value = int(text) if text.strip() else 0
        if value != last:
            last, since = value, time.monotonic()
        elif time.monotonic() - since >= stable_for:
            return value
        time.sleep(0.05)
    return last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--udp-rates", default="50000,100000,0",
                        help="comma-separated datagrams/s for the udp phase (0: flat out)")
    args = parser.parse_args()

    from lgr.core import certs

    tmp = Path(tempfile.mkdtemp(prefix="lgr-bench-agent-"))
    certs.generate_pki(tmp / "certs", days=2)
    count_file = tmp / "sink-count"
    sink_proc = _child("_sink", "--certs", str(tmp / "certs"), "--count-file", str(count_file))
    sink_port = int(sink_proc.stdout.readline())
    agent = AgentProcess(str(tmp / "certs"), f"127.0.0.1:{sink_port}")
    time.sleep(0.5)  # let the agent's streams connect
    v1_ingress = 'ingress{metric_version="1.0"}'
    dropped_in = 'dropped{direction="ingress",metric_version="2.0"}'
    dropped_out = 'dropped{direction="egress",metric_version="2.0"}'
    try:
        idle = agent.memory()
        print(f"agent pid {agent.proc.pid}; sink router 127.0.0.1:{sink_port}; {os.cpu_count()} cpus; "
              f"idle VmRSS {idle['VmRSS']:.1f} MiB")

        before = _wait_count(count_file)
        emitter = _child("_emit_grpc", "--certs", str(tmp / "certs"), "--port", str(agent.grpc_port),
                         "--seconds", str(args.seconds))
        result = json.loads(emitter.stdout.read())
        delivered = _wait_count(count_file) - before
        m = agent.metrics()
        print(f"grpc  BatchSender: sent {result['sent'] / result['seconds']:,.0f} env/s, "
              f"forwarded {delivered / result['seconds']:,.0f} env/s "
              f"({delivered:,} of {result['sent']:,}); agent dropped ingress "
              f"{m[dropped_in]:,.0f}, egress {m[dropped_out]:,.0f}")

        for rate in (int(r) for r in args.udp_rates.split(",")):
            before_ingress = agent.metrics()[v1_ingress]
            before = _wait_count(count_file)
            emitter = _child("_emit_udp", "--port", str(agent.udp_port), "--seconds", str(args.seconds),
                             "--rate", str(rate))
            result = json.loads(emitter.stdout.read())
            delivered = _wait_count(count_file) - before
            accepted = agent.metrics()[v1_ingress] - before_ingress
            label = f"{rate:,}/s" if rate else "flat out"
            print(f"udp   {label:>10}: sent {result['sent'] / result['seconds']:,.0f} dgram/s, accepted "
                  f"{accepted / result['seconds']:,.0f}/s ({accepted / max(1, result['sent']):.1%}), "
                  f"forwarded {delivered:,}")

        sink_proc.send_signal(signal.SIGUSR1)
        emitter = _child("_emit_grpc", "--certs", str(tmp / "certs"), "--port", str(agent.grpc_port),
                         "--seconds", "2")
        emitter.stdout.read()
        m = agent.metrics()
        mem = agent.memory()
        print(f"rss   full buffers: VmRSS {mem['VmRSS']:.1f} MiB, VmHWM {mem['VmHWM']:.1f} MiB "
              f"(diode overflowed: dropped ingress {m[dropped_in]:,.0f})")
    finally:
        agent.stop()
        sink_proc.kill()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        p = argparse.ArgumentParser()
        p.add_argument("mode")
        p.add_argument("--certs")
        p.add_argument("--count-file")
        p.add_argument("--port", type=int)
        p.add_argument("--seconds", type=float, default=5.0)
        p.add_argument("--rate", type=int, default=0)
        a = p.parse_args()
        {"_sink": sink, "_emit_grpc": emit_grpc, "_emit_udp": emit_udp}[a.mode](a)
    else:
        main()
