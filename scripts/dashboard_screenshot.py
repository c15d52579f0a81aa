#!/usr/bin/env python3
"""Make the README's screenshot of `lgr dashboard`: docs/dashboard.svg (and .png when possible).

Usage: .venv/bin/python scripts/dashboard_screenshot.py [--view components] [--seconds 25]

Starts a router, an rlp and an agent in-process (certificates in a temporary directory, every
port chosen by the OS), sends them a few thousand envelopes a second from a handful of made-up
apps (logs, counters, gauges, timers, an occasional event), runs the dashboard headless against
them for ``--seconds``, and saves the chosen view as SVG. When ``rsvg-convert`` is on PATH
(Debian: librsvg2-bin) it also writes the PNG beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lgr.core import certs, envelope, tls  # noqa: E402
from lgr.core.apps.agent.app import Agent  # noqa: E402
from lgr.core.apps.agent.config import AgentConfig  # noqa: E402
from lgr.core.apps.rlp.app import Rlp  # noqa: E402
from lgr.core.apps.rlp.config import RlpConfig  # noqa: E402
from lgr.core.apps.router.app import Router  # noqa: E402
from lgr.core.apps.router.config import RouterConfig  # noqa: E402
from lgr.core.clients.ingress import IngressClient  # noqa: E402
from lgr.core.config import load_config  # noqa: E402
from lgr.core.observe import prom_scrape  # noqa: E402
from lgr.core.observe.components import ComponentWatcher  # noqa: E402
from lgr.core.observe.feed_runner import FeedRunner  # noqa: E402
from lgr.core.observe.firehose_feed import FirehoseFeed  # noqa: E402
from lgr.core.observe.rlp_source import RlpSource  # noqa: E402
from lgr.core.observe.series import SeriesBook  # noqa: E402
from lgr.core.observe.targets import Target  # noqa: E402
from lgr.core.probe import client_context  # noqa: E402
from lgr.tui.app import DashboardApp  # noqa: E402

APPS = {"checkout-api": 900, "payments": 350, "search-web": 250, "cart": 120, "auth": 60}
PATHS = ("/items", "/cart", "/pay", "/search?q=shoes", "/login")


def files(d: Path, name: str) -> dict[str, str]:
    return {"ca_file": str(d / "ca.crt"), "cert_file": str(d / f"{name}.crt"),
            "key_file": str(d / f"{name}.key")}


async def emit(agent_addr: str, d: Path, stop: asyncio.Event) -> None:
    creds = tls.client_credentials(d / "ca.crt", d / "client.crt", d / "client.key")
    rng = random.Random(7)
    async with IngressClient(agent_addr, creds) as client:
        totals = dict.fromkeys(APPS, 0)
        tick = 0
        while not stop.is_set():
            tick += 1
            surge = 2.5 if 40 <= tick % 120 < 60 else 1.0  # a burst from checkout now and then
            for app, rate in APPS.items():
                n = int(rate / 10 * (surge if app == "checkout-api" else 1.0))
                for i in range(n):
                    status = rng.choices((200, 404, 500), (90, 7, 3))[0]
                    client.emit(envelope.log(
                        f"{rng.choice(('GET', 'POST'))} {rng.choice(PATHS)} {status} "
                        f"{rng.randint(2, 180)}ms", source_id=app, instance_id=str(i % 3),
                        type="ERR" if status == 500 else "OUT", tags={"source_type": "APP/PROC/WEB"}))
                totals[app] += n
                client.emit(envelope.counter("requests", delta=n, total=totals[app], source_id=app))
                if tick % 5 == 0:
                    client.emit(envelope.gauge(
                        {"cpu": (20 + 30 * rng.random() + (25 if surge > 1 and app == "checkout-api" else 0),
                                 "percentage"),
                         "memory": (2.5e8 + 4e7 * rng.random(), "bytes")}, source_id=app, instance_id="0"))
                    client.emit(envelope.timer("http", 0, rng.randint(2, 90) * 1_000_000, source_id=app))
            if tick % 70 == 0:
                client.emit(envelope.event("app restarted", "instance 2 crashed: out of memory",
                                           source_id="payments"))
            await asyncio.sleep(0.1)


async def main(view: str, seconds: float, out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        certs.generate_pki(d, days=2)
        router = Router(load_config(RouterConfig, env={}, overrides={**files(d, "router"), "port": 0,
                                                                     "metrics_port": 0}))
        async with router:
            rlp = Rlp(load_config(RlpConfig, env={}, overrides={
                **files(d, "rlp"), "port": 0, "metrics_port": 0, "router_addrs": [router.address]}))
            agent = Agent(load_config(AgentConfig, env={}, overrides={
                **files(d, "agent"), "port": 0, "metrics_port": 0, "udp_port": 0,
                "router_addr": router.address, "metric_batch_interval_ms": 5000}))
            async with rlp, agent:
                book = SeriesBook()
                feed = FirehoseFeed(series=book)
                source = RlpSource(rlp.address, d / "ca.crt", d / "client.crt", d / "client.key")
                context = client_context(*(str(d / n) for n in ("ca.crt", "client.crt", "client.key")))
                fetch = partial(prom_scrape.fetch, context=context)
                targets = [Target("agent", "agent", agent.metrics_url, agent.address),
                           Target("router", "router", router.metrics_url, router.address),
                           Target("rlp", "rlp", rlp.metrics_url, rlp.address),
                           Target("gateway", "gateway", "https://127.0.0.1:1/metrics", "127.0.0.1:1")]
                watcher = ComponentWatcher(targets, fetch, series=book)
                app = DashboardApp(feed, watcher, FeedRunner(feed, source), series=book,
                                   source_name=source.what, initial_view=view)
                stop = asyncio.Event()
                emitter = asyncio.ensure_future(emit(agent.address, d, stop))
                app.screenshot_after(out, seconds)
                started = time.monotonic()
                await app.run_async(headless=True, size=(140, 40))
                stop.set()
                await emitter
                print(f"watched for {time.monotonic() - started:.0f}s; wrote {out}")


def to_png(svg: Path) -> Path | None:
    converter = shutil.which("rsvg-convert")
    if converter is None:
        print("no rsvg-convert on PATH (Debian: apt-get install librsvg2-bin): PNG skipped")
        return None
    png = svg.with_suffix(".png")
    subprocess.run([converter, "-b", "#1e1e1e", str(svg), "-o", str(png)], check=True)
    print(f"wrote {png}")
    return png


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--view", default="components",
                        choices=("components", "firehose", "sources", "metrics"))
    parser.add_argument("--seconds", type=float, default=25.0)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "dashboard.svg")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    asyncio.run(main(args.view, args.seconds, args.out))
    to_png(args.out)
