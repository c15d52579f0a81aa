"""Benchmark: the v1 (dropsonde) path, UDP → agent → router → traffic controller websocket.

Run (from the repo root): .venv/bin/python bench/v1_path.py [--seconds 5] [--rates 25000,50000]

The agent, router, rlp and traffic controller are started by ``lgr.core.stack`` as ``lgr up``
starts them (own certificates, mTLS, loopback; the rlp idles). The UDP emitter is
``bench_agent.py _emit_udp`` (dropsonde LogMessages, ~150 bytes, paced to each rate); the
consumer is this script's ``_firehose`` mode: one /firehose websocket (admin token) counting
binary frames. Per rate: sent/s, delivered/s (frames ÷ the emitter's sending time), loss, and the
change of every drop counter during the trial: agent UDP (datagrams the kernel dropped: sent −
ingress{1.0}), agent v1 buffer (dropped{all,1.0}), agent v1 egress, router egress, tc egress.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_agent import _wait_count  # noqa: E402
from bench_router import scrape as _scrape  # noqa: E402


def firehose(args: argparse.Namespace) -> None:
    """Count the binary frames of one firehose websocket into ``--count-file``."""
    import threading

    from websockets.sync.client import connect

    count = [0]
    out = Path(args.count_file)

    def dump() -> None:
        while True:
            out.write_text(str(count[0]))
            time.sleep(0.05)

    threading.Thread(target=dump, daemon=True).start()
    with connect(f"{args.url}/firehose/bench-v1", max_size=None,
                 additional_headers={"Authorization": f"bearer {args.token}"}) as conn:
        print("open", flush=True)
        for message in conn:
            if isinstance(message, bytes):
                count[0] += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rates", default="25000,50000")
    args = parser.parse_args()

    from lgr.core import certs
    from lgr.core.auth.tokens import mint
    from lgr.core.stack import Stack, StackConfig

    tmp = Path(tempfile.mkdtemp(prefix="lgr-bench-v1-"))
    certs.generate_pki(tmp / "certs", days=2)
    token, _ = mint(tmp / "tokens.json", "bench", admin=True)
    stack = Stack(StackConfig(
        certs_dir=tmp / "certs", log_dir=tmp / "logs", router_port=0, agent_port=0, udp_port=0,
        rlp_port=0, agent_metrics_port=0, router_metrics_port=0, rlp_metrics_port=0, tc=True,
        tc_port=0, tc_metrics_port=0, tokens_file=tmp / "tokens.json"))
    stack.start()
    def scrape(url: str) -> dict[str, float]:
        return _scrape(url, tmp / "certs")

    agent, router = stack.of_kind("agent")[0], stack.of_kind("router")[0]
    tc = stack.of_kind("tc")[0]
    count_file = tmp / "count"
    consumer = subprocess.Popen(
        [sys.executable, __file__, "_firehose", "--url", tc.url, "--token", token,
         "--count-file", str(count_file)], stdout=subprocess.PIPE, text=True)
    try:
        if consumer.stdout.readline().strip() != "open":
            raise SystemExit("the firehose websocket did not open")
        time.sleep(1.0)  # the controller's subscriptions reach the router
        print(f"{os.cpu_count()} cpus; agent {agent.address}, router {router.address}, tc {tc.url}")
        for rate in (int(r) for r in args.rates.split(",")):
            before = _wait_count(count_file)
            a0, r0, t0 = scrape(agent.metrics_url), scrape(router.metrics_url), scrape(tc.metrics_url)
            port = agent.udp_address.rsplit(":", 1)[1]
            emitter = subprocess.run(
                [sys.executable, str(ROOT / "bench" / "bench_agent.py"), "_emit_udp", "--port", port,
                 "--seconds", str(args.seconds), "--rate", str(rate)],
                capture_output=True, text=True, check=True)
            result = json.loads(emitter.stdout)
            delivered = _wait_count(count_file) - before
            a1, r1, t1 = scrape(agent.metrics_url), scrape(router.metrics_url), scrape(tc.metrics_url)

            def d(m1, m0, name):
                return m1.get(name, 0) - m0.get(name, 0)

            sent, secs = result["sent"], result["seconds"]
            drops = {
                "udp (kernel)": sent - d(a1, a0, 'ingress{metric_version="1.0"}'),
                "agent v1 buffer": d(a1, a0, 'dropped{direction="all",metric_version="1.0"}'),
                "agent v1 egress": d(a1, a0, 'dropped{direction="egress",metric_version="1.0"}'),
                "router egress": d(r1, r0, 'dropped{direction="egress"}'),
                "tc egress": d(t1, t0, 'dropped{direction="egress"}'),
            }
            where = ", ".join(f"{k} {v:,.0f}" for k, v in drops.items() if v)
            print(f"asked {rate:>7,}/s: sent {sent / secs:>9,.0f}/s, delivered "
                  f"{delivered / secs:>9,.0f}/s, loss {1 - delivered / max(1, sent):6.2%}"
                  f"{'; drops: ' + where if where else ''}", flush=True)
    finally:
        consumer.kill()
        stack.stop(grace=5)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_firehose":
        p = argparse.ArgumentParser()
        p.add_argument("mode")
        p.add_argument("--url")
        p.add_argument("--token")
        p.add_argument("--count-file")
        firehose(p.parse_args())
    else:
        main()
