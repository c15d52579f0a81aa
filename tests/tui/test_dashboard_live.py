"""The dashboard against a real router and rlp started in-process: stream, components, metrics."""

from __future__ import annotations

import asyncio
from functools import partial

from textual.widgets import DataTable

from lgr.core.apps.rlp.app import Rlp
from lgr.core.apps.router.app import Router
from lgr.core.observe import prom_scrape
from lgr.core.observe.components import ComponentWatcher
from lgr.core.observe.connection_status import CONNECTED, STOPPED
from lgr.core.observe.feed_runner import FeedRunner
from lgr.core.observe.firehose_feed import FirehoseFeed
from lgr.core.observe.rlp_source import RlpSource
from lgr.core.observe.series import SeriesBook
from lgr.core.observe.targets import Target
from lgr.core.probe import client_context
from lgr.tui.app import DashboardApp
from lgr.tui.widgets.stream_table import StreamTable
from tests.conftest import async_wait_until
from tests.core.apps.firehose_support import channel, log_envelope, rlp_config, router_config, send
from tests.tui.support import SIZE

TIMEOUT = 20


def test_dashboard_shows_a_live_router_and_rlp(pki):
    async def scenario():
        async with Router(router_config(pki)) as router, \
                Rlp(rlp_config(pki, [router.address])) as rlp:
            book = SeriesBook()
            feed = FirehoseFeed(series=book)
            source = RlpSource(rlp.address, *pki.files("client"))
            fetch = partial(prom_scrape.fetch, context=client_context(*map(str, pki.files("client"))))
            watcher = ComponentWatcher(
                [Target("router", "router", router.metrics_url, router.address),
                 Target("rlp", "rlp", rlp.metrics_url, rlp.address)],
                fetch, interval=0.2, series=book)
            app = DashboardApp(feed, watcher, FeedRunner(feed, source, probe_every=0.05),
                               series=book, source_name=source.what, refresh=0.1)
            async with app.run_test(size=SIZE) as pilot:
                await async_wait_until(lambda: feed.status.state == CONNECTED, TIMEOUT)
                agent = channel(pki, router.address, "doppler", "agent")
                sent = 0
                table = app.query_one(StreamTable)
                await pilot.press("2")
                # Retry sends: the rlp subscribes to the router a moment after our stream opens.
                while table.row_count == 0:
                    await send(agent, [log_envelope(sent + i, "live-app") for i in range(50)])
                    sent += 50
                    await asyncio.sleep(0.1)
                    assert sent < 50 * 10 * TIMEOUT, "nothing reached the dashboard"
                await agent.close()
                first = str(table.get_row_at(0)[0])
                await pilot.press("1")
                components = app.query_one("#components-table", DataTable)

                def router_busy():
                    statuses = watcher.statuses()
                    rows = [[str(c) for c in components.get_row_at(i)] for i in range(components.row_count)]
                    busy = any(statuses[0].ingress_history) and any(statuses[1].egress_history)
                    return rows if busy and [r[2] for r in rows] == ["● up", "● up"] else None

                rows = await async_wait_until(router_busy, TIMEOUT)
                await pilot.press("3")
                sources = app.query_one("#sources-table", DataTable)
                await async_wait_until(lambda: sources.row_count >= 1, TIMEOUT)
                top_source = str(sources.get_row_at(0)[0])
                result = first, rows, top_source, feed.snapshot().total, sent
            return (*result, feed.status.state)

    first, rows, top_source, total, sent, state = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert state == STOPPED  # the app stopped the stream's thread when it exited
    assert first == "live-app" and top_source == "live-app"
    assert 0 < total <= sent
    assert [r[0] for r in rows] == ["router", "rlp"]
