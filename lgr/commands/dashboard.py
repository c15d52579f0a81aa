"""`lgr dashboard`: a terminal UI over the live system — components, firehose, sources, metrics."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from lgr.commands import _client

SOURCE = "Stream"
WATCH = "Components"
DISPLAY = "Display"
SCREENSHOT_SIZE = (140, 40)


class Via(str, enum.Enum):
    """Where the firehose is read."""

    rlp = "rlp"
    gateway = "gateway"


class View(str, enum.Enum):
    """The view shown first."""

    components = "components"
    firehose = "firehose"
    sources = "sources"
    metrics = "metrics"


def command(
    via: Annotated[Optional[Via], typer.Option(
        "--via", show_default=False, rich_help_panel=SOURCE,
        help="Read the firehose from the rlp (gRPC, mTLS) or the rlp gateway (HTTPS with --token: the "
        "firehose needs an admin token; after `lgr up`, its admin token is the default). "
        "\\[env: LGR_DASHBOARD_VIA; default: rlp]",
    )] = None,
    metrics: Annotated[Optional[list[str]], typer.Option(
        "--metrics", "-m", metavar="[NAME=]URL", show_default=False, rich_help_panel=WATCH,
        help="A component's metrics endpoint to watch, e.g. router=https://127.0.0.1:14825/metrics; "
        "repeatable. \\[env: LGR_DASHBOARD_METRICS, comma-separated; default: every component of "
        "the running `lgr up`]",
    )] = None,
    scrape_interval: Annotated[Optional[float], typer.Option(
        "--scrape-interval", min=0.1, metavar="SECONDS", show_default=False, rich_help_panel=WATCH,
        help="Seconds between scrapes of the metrics endpoints. \\[env: LGR_DASHBOARD_SCRAPE_INTERVAL; "
        "default: 1]",
    )] = None,
    view: Annotated[View, typer.Option(
        "--view", rich_help_panel=DISPLAY, help="The view shown first (keys 1-4 switch views).",
    )] = View.components,
    screenshot: Annotated[Optional[Path], typer.Option(
        "--screenshot", metavar="FILE.svg", dir_okay=False, show_default=False, rich_help_panel=DISPLAY,
        help="Run without a terminal for --screenshot-after seconds, save the view as SVG, and exit.",
    )] = None,
    screenshot_after: Annotated[float, typer.Option(
        "--screenshot-after", min=0.0, metavar="SECONDS", rich_help_panel=DISPLAY,
        help="How long to watch before taking --screenshot.",
    )] = 5.0,
    rlp_addr: _client.RlpAddr = None,
    gateway_addr: _client.GatewayAddr = None,
    token: _client.Token = None,
    ca_file: _client.CaFile = None,
    cert_file: _client.CertFile = None,
    key_file: _client.KeyFile = None,
) -> None:
    """Watch the live system in a terminal UI: components, firehose, sources and metrics.

    After `lgr up`, `lgr dashboard` alone finds the rlp, the certificates and every component.
    Keys: 1-4 switch views, p pauses the stream, / edits the regex filter, c clears filters,
    Enter on an envelope shows its fields, Ctrl+P opens the command palette, q quits. When it
    cannot connect it says why and keeps retrying.

      lgr dashboard

      lgr dashboard --via gateway --view firehose
    """
    _client.quiet_grpc()
    import os

    from lgr.core.observe.config import DashboardConfig, load_plan
    from lgr.core.observe.wiring import build

    flags = {
        "via": via.value if via else None, "gateway_addr": gateway_addr, "token": token,
        "metrics": metrics, "scrape_interval": scrape_interval, "rlp_addr": rlp_addr,
        "ca_file": ca_file, "cert_file": cert_file, "key_file": key_file,
    }
    _client.require_stack(DashboardConfig, flags, " to watch")
    plan = load_plan(os.environ, flags)
    observers = build(plan)

    from lgr.tui.app import DashboardApp

    app = DashboardApp(observers.feed, observers.watcher, observers.runner, series=observers.series,
                       source_name=observers.source.what, initial_view=view.value)
    if screenshot is None:
        app.run()
    else:
        app.screenshot_after(screenshot, screenshot_after)
        app.run(headless=True, size=SCREENSHOT_SIZE)
