"""The UI keeps up with a fast stream: everything it holds is bounded, whatever the rate.

Asserts sizes, not timings: 100k envelopes a second for 10 (fake) seconds go through the feed
while the app refreshes, and the table, the feed's rings and the series stay within their bounds.
"""

from __future__ import annotations

import asyncio

from lgr.core import envelope
from lgr.tui.widgets.firehose_view import FirehoseView
from lgr.tui.widgets.stream_table import StreamTable
from tests.tui.support import SIZE, make_app

RATE = 100_000
SECONDS = 10
BATCH = 1000


def test_a_fast_stream_keeps_every_structure_bounded():
    logs = [envelope.log(f"request {i} ok", source_id=f"app-{i % 40}", timestamp=i + 1)
            for i in range(BATCH)]
    counters = [envelope.counter(f"c{i % 7}", delta=1, total=i, source_id=f"app-{i % 40}")
                for i in range(BATCH)]

    async def scenario():
        app, feed, _, clock = make_app(seconds=0, max_rows=200, rows_per_refresh=100)
        sizes = []
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("2")
            for _second in range(SECONDS):
                for i in range(RATE // BATCH):
                    feed.ingest(counters if i % 10 == 0 else logs)
                    if i % 25 == 0:  # four refreshes a second, as the timer does
                        app.update_views()
                clock.advance()
                await pilot.pause()
                table = app.main_screen.query_one(StreamTable)
                sizes.append((table.row_count, len(table._envelopes), feed.sizes()))
            view = app.main_screen.query_one(FirehoseView)
            return sizes, feed.snapshot(), view.shown, view.skipped

    sizes, snap, shown, skipped = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert snap.total == RATE * SECONDS
    for rows, remembered, feed_sizes in sizes:
        assert rows <= 200 and remembered == rows
        assert feed_sizes["recent"] <= 2000 and feed_sizes["pending"] <= 1000
        assert feed_sizes["sources"] == 40 and feed_sizes["series"] == 7 * 40
    assert sizes[-1][0] == 200
    assert shown == 100 * 4 * SECONDS  # at most rows_per_refresh per refresh reach the table
    assert skipped > 0 and snap.sample_every > 1  # the rest was counted, not displayed
