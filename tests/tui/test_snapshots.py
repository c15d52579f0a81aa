"""Snapshots of every screen of the dashboard, compared as text with committed files.

The files are in tests/tui/snapshots/. After an intended change to what a screen shows, run
``.venv/bin/python scripts/regen_dashboard_snapshots.py`` (it sets LGR_UPDATE_SNAPSHOTS=1),
look at the diff, and commit it.
"""

from __future__ import annotations

import asyncio
import difflib
import os
from pathlib import Path

import pytest

from lgr.core import envelope
from lgr.core.observe.connection_status import RETRYING, ConnectionStatus
from lgr.tui.widgets.envelope_detail import EnvelopeDetail
from lgr.tui.widgets.metrics_view import MetricsView
from lgr.tui.widgets.stream_table import StreamTable
from tests.tui.screens import screen_text
from tests.tui.support import SIZE, make_app

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("LGR_UPDATE_SNAPSHOTS") == "1"


async def components(app, pilot):
    await pilot.press("1")


async def firehose(app, pilot):
    await pilot.press("2")


async def firehose_filtered(app, pilot):
    await pilot.press("2", "slash", *"declined|deployed", "escape")


async def sources(app, pilot):
    await pilot.press("3")


async def metrics(app, pilot):
    await pilot.press("4")
    from lgr.core.observe.series import SeriesKey

    app.main_screen.query_one(MetricsView).pick(SeriesKey("payments", "gauge", "cpu"))


async def envelope_detail(app, pilot):
    env = envelope.log("payment declined: card expired", source_id="payments", instance_id="0",
                       type="ERR", tags={"source_type": "APP/PROC/WEB", "deployment": "cf"},
                       timestamp=1_700_000_000_120_000_000)
    env.deprecated_tags["job"].text = "cell"
    await app.push_screen(EnvelopeDetail(env))


async def disconnected(app, pilot):
    app.feed.set_status(ConnectionStatus(
        RETRYING, "cannot reach the reverse log proxy at 127.0.0.1:8083: connection refused "
        "(start one with `lgr up`, or point --rlp-addr / LGR_RLP_ADDR at a running rlp); "
        "retrying in 5.0s", app.clock() - 42, attempt=9))
    await pilot.press("2")


SCREENS = [components, firehose, firehose_filtered, sources, metrics, envelope_detail, disconnected]


def render(screen) -> str:
    async def scenario():
        app, *_ = make_app(seconds=20, max_rows=40)
        async with app.run_test(size=SIZE) as pilot:
            await screen(app, pilot)
            app.update_views()
            await pilot.pause()
            app.main_screen.query_one(StreamTable).blur() if screen is not firehose_filtered else None
            await pilot.pause()
            return screen_text(app)

    return asyncio.run(asyncio.wait_for(scenario(), 30))


@pytest.mark.parametrize("screen", SCREENS, ids=[s.__name__ for s in SCREENS])
def test_screen_matches_its_snapshot(screen):
    path = SNAPSHOTS / f"{screen.__name__}.txt"
    text = render(screen)
    if UPDATE or not path.exists():
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"wrote a new snapshot {path}; check it and commit it")
        return
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True),
                                            "committed", "now"))
        pytest.fail(f"{screen.__name__} differs from {path} (regen: scripts/regen_dashboard_snapshots.py)"
                    f"\n{diff}")
