"""Pilot tests of `lgr dashboard`'s UI over an injected stream: every view, filter and key."""

from __future__ import annotations

import asyncio
import io

from rich.console import Console
from textual.widgets import DataTable, Input, Select, TabbedContent

from lgr.core import envelope
from lgr.tui.widgets.envelope_detail import EnvelopeDetail
from lgr.tui.widgets.metric_plot import MetricPlot
from lgr.tui.widgets.status_bar import StatusBar
from lgr.tui.widgets.stream_table import StreamTable
from tests.tui.support import PER_SECOND, SIZE, make_app

TIMEOUT = 30


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))


def sources_in(table: StreamTable) -> list[str]:
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


def lines_in(table: StreamTable) -> list[str]:
    return [str(table.get_row_at(i)[1]) for i in range(table.row_count)]


def row_of(metrics_table: DataTable, index: int) -> tuple[str, str, str, str]:
    """(origin, via, kind, name) of a row of the metrics table."""
    origin, name, kind, _latest, via = (str(c) for c in metrics_table.get_row_at(index))
    return origin, via, kind, name


async def type_into(pilot, selector: str, text: str) -> None:
    await pilot.click(selector)
    for char in text:
        await pilot.press(char)
    await pilot.pause()


def test_components_view_shows_health_uptime_rates_and_drops():
    async def scenario():
        app, *_ = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            table = app.query_one("#components-table", DataTable)
            rows = {str(table.get_row_at(i)[0]): [str(c) for c in table.get_row_at(i)]
                    for i in range(table.row_count)}
            notes = str(app.query_one("#components-notes").render())
        return rows, notes

    rows, notes = run(scenario())
    assert list(rows) == ["router", "agent", "rlp", "gateway"]
    router = rows["router"]
    assert router[2] == "● up" and router[3] == "1h02m"  # process_start_time_seconds was T0-3725
    assert router[4:6] == ["1.0k/s", "990/s"]
    assert rows["rlp"][6] == "5/s egress"  # drops with their direction
    assert rows["gateway"][2] == "✗ down"
    assert "gateway: https://127.0.0.1:14827/metrics: connection refused" in notes
    assert "3 of 4 components up" in notes


def test_firehose_shows_the_stream_and_every_filter_narrows_it():
    async def scenario():
        app, feed, *_ = make_app(seconds=2)
        seen = {}
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("2")
            assert app.query_one(TabbedContent).active == "firehose"
            table = app.query_one(StreamTable)
            seen["all"] = table.row_count
            feed.ingest([envelope.log("live one", source_id="late-app")])
            app.update_views()
            await pilot.pause()
            seen["live"] = sources_in(table)[-1]

            await type_into(pilot, "#filter-source", "payments")
            seen["source"] = set(sources_in(table))
            app.query_one("#filter-source", Input).value = ""
            await pilot.pause()

            app.query_one("#filter-type", Select).value = "counter"
            await pilot.pause()
            seen["type"] = {line.split()[2] for line in lines_in(table)}
            app.query_one("#filter-type", Select).clear()

            await type_into(pilot, "#filter-name", "cpu")
            seen["name"] = lines_in(table)
            app.query_one("#filter-name", Input).value = ""

            await pilot.press("escape")
            await pilot.press("slash")
            assert app.focused is app.query_one("#filter-regex")
            for char in "declined|deployed":
                await pilot.press(char)
            await pilot.pause()
            seen["regex"] = lines_in(table)

            feed.ingest([envelope.log("declined again", source_id="payments"),
                         envelope.log("accepted", source_id="payments")])
            app.update_views()
            await pilot.pause()
            seen["regex_live"] = lines_in(table)[-1]

            await type_into(pilot, "#filter-regex", "(")
            seen["invalid"] = app.query_one("#filter-regex").has_class("-invalid")
            seen["invalid_error"] = str(app.query_one("#filter-error").render())
            seen["kept"] = len(lines_in(table))
            app.query_one(StreamTable).focus()
            await pilot.press("c")
            await pilot.pause()
            seen["cleared"] = table.row_count
        return seen

    seen = run(scenario())
    assert seen["all"] == 2 * PER_SECOND and seen["live"] == "late-app"
    assert seen["source"] == {"payments"}
    assert seen["type"] == {"COUNTER"}
    assert len(seen["name"]) == 2 and all("GAUGE cpu:" in line for line in seen["name"])
    assert [line.split(" ", 2)[2] for line in seen["regex"]] == [
        "ERR payment declined", "EVENT deployed:v42 rolled out"] * 2
    assert seen["regex_live"].endswith("OUT declined again")
    assert seen["invalid"] and "bad regular expression" in seen["invalid_error"]
    assert seen["kept"] == 5  # a bad regex keeps the previous filter
    assert seen["cleared"] == 2 * PER_SECOND + 3


def test_pause_freezes_the_table_and_resume_continues():
    async def scenario():
        app, feed, *_ = make_app(seconds=1)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("2", "p")
            table = app.query_one(StreamTable)
            before = table.row_count
            feed.ingest([envelope.log("while paused", source_id="x")])
            app.update_views()
            await pilot.pause()
            during = table.row_count
            bar = str(app.query_one(StatusBar).render())
            await pilot.press("p")
            feed.ingest([envelope.log("after resume", source_id="x")])
            app.update_views()
            await pilot.pause()
            return before, during, bar, lines_in(table)[-1], feed.snapshot().total

    before, during, bar, last, total = run(scenario())
    assert before == during == PER_SECOND
    assert "PAUSED" in bar
    assert last.endswith("after resume")
    assert total == PER_SECOND + 2  # counting went on while paused


def test_selecting_an_envelope_shows_all_its_fields_and_tags():
    async def scenario():
        app, *_ = make_app(seconds=1)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("2")
            table = app.query_one(StreamTable)
            table.focus()
            table.move_cursor(row=6)  # the ERR log of payments
            await pilot.press("enter")
            await pilot.pause()
            screen = app.screen
            text = str(screen.query_one("#detail-content").render()) if isinstance(
                screen, EnvelopeDetail) else ""
            detail = screen.envelope if isinstance(screen, EnvelopeDetail) else None
            app.update_views()  # the timer keeps refreshing the views under the modal
            await pilot.press("escape")
            await pilot.pause()
            return detail, text, app.screen

    detail, text, after = run(scenario())
    assert detail is not None and detail.source_id == "payments"
    assert not isinstance(after, EnvelopeDetail)


def test_envelope_detail_lists_fields_tags_and_json():
    env = envelope.log("hello", source_id="app-1", instance_id="3", tags={"deployment": "cf"},
                       timestamp=1_700_000_000_000_000_000)
    env.deprecated_tags["job"].text = "cell"
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(EnvelopeDetail(env).content())
    text = console.export_text()
    for expected in ("source_id    app-1", "instance_id  3", "2023-11-14T22:13:20.00+0000",
                     "deployment", "deprecated_tag", "cell", '"payload": "aGVsbG8="'):
        assert expected in text


def test_sources_view_ranks_sources_and_picking_one_filters_the_stream():
    async def scenario():
        app, feed, *_ = make_app(seconds=3)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("3")
            table = app.query_one("#sources-table", DataTable)
            rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
            table.focus()
            table.move_cursor(row=1)
            await pilot.press("enter")
            await pilot.pause()
            active = app.query_one(TabbedContent).active
            source_filter = app.query_one("#filter-source", Input).value
            shown = set(sources_in(app.query_one(StreamTable)))
            return rows, active, source_filter, shown

    rows, active, source_filter, shown = run(scenario())
    assert [r[0] for r in rows] == ["checkout", "search", "payments", "metron"]
    checkout = rows[0]
    assert checkout[1] == "7/s" and checkout[3] == "21"
    assert checkout[4:9] == ["18", "3", "0", "0", "0"]
    assert rows[3][-1] == "6 ingress"  # metron's own dropped counter, attributed to it
    assert active == "firehose" and source_filter == "search" and shown == {"search"}


def test_metrics_view_plots_the_picked_counter_or_gauge():
    async def scenario():
        app, *_ = make_app(seconds=6)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("4")
            table = app.query_one("#metrics-table", DataTable)
            rows = [row_of(table, i) for i in range(table.row_count)]
            plot = app.query_one("#metrics-plot", MetricPlot)
            first = plot.series.key if plot.series else None
            index = rows.index(("payments", "stream", "gauge", "cpu"))
            table.focus()
            table.move_cursor(row=index)
            await pilot.pause()
            picked = plot.series.key
            values = plot.series.values()
            text = str(plot.render())
            return rows, first, picked, values, text, app.sub_title

    rows, first, picked, values, text, sub_title = run(scenario())
    assert ("router", "scrape", "counter", "ingress") in rows
    assert ("checkout", "stream", "counter", "requests") in rows
    assert first is not None and first.via == "scrape"  # scraped series are listed first
    assert picked.name == "cpu" and values[:3] == [20.0, 25.0, 30.0]
    assert "payments gauge cpu" in text and "█" in text and "now" in text
    assert "plotting payments gauge cpu" in sub_title


def test_counters_are_plotted_as_rates():
    async def scenario():
        app, *_ = make_app(seconds=4)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("4")
            table = app.query_one("#metrics-table", DataTable)
            keys = [row_of(table, i) for i in range(table.row_count)]
            table.focus()
            table.move_cursor(row=keys.index(("checkout", "stream", "counter", "requests")))
            await pilot.pause()
            return app.query_one("#metrics-plot", MetricPlot).series.values()

    assert run(scenario()) == [10.0, 10.0, 10.0]


def test_command_palette_runs_dashboard_commands():
    async def scenario():
        app, *_ = make_app(seconds=2)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("ctrl+p")
            await pilot.pause()
            for char in "source payments":
                await pilot.press(char)
            await asyncio.sleep(0.3)  # the palette searches in a worker
            await pilot.pause()
            await pilot.press("enter")
            await pilot.pause()
            return app.query_one(TabbedContent).active, app.query_one("#filter-source", Input).value

    assert run(scenario()) == ("firehose", "payments")


def test_mouse_switches_views_and_selects_rows():
    async def scenario():
        app, *_ = make_app(seconds=1)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.click("#--content-tab-sources")
            active = app.query_one(TabbedContent).active
            await pilot.click("#--content-tab-firehose")
            await pilot.pause()
            table = app.query_one(StreamTable)
            await pilot.click(StreamTable, offset=(5, 3))
            await pilot.click(StreamTable, offset=(5, 3))  # a click on the cursor row selects it
            await pilot.pause()
            return active, type(app.screen).__name__, table.cursor_row

    active, screen, row = run(scenario())
    assert active == "sources"
    assert screen == "EnvelopeDetail" and row == 2


def test_status_bar_says_why_it_cannot_connect():
    from lgr.core.observe.connection_status import RETRYING, ConnectionStatus

    async def scenario():
        app, feed, _, clock = make_app(seconds=0)
        feed.set_status(ConnectionStatus(
            RETRYING, "cannot reach the reverse log proxy at 127.0.0.1:8083: connection refused; "
            "retrying in 2.0s", clock() - 12, attempt=4))
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            bar = app.query_one(StatusBar)
            return str(bar.render()), bar.has_class("-failing")

    text, failing = run(scenario())
    assert "retrying" in text and "attempt 4; not connected for 12s" in text
    assert "cannot reach the reverse log proxy at 127.0.0.1:8083: connection refused" in text
    assert failing


VIEW_TABLES = {"1": ("components", "components-table"), "2": ("firehose", "stream-table"),
               "3": ("sources", "sources-table"), "4": ("metrics", "metrics-table")}


def test_each_view_takes_the_focus_into_its_table_and_names_itself_in_the_title():
    async def scenario():
        app, *_ = make_app(seconds=2)
        seen = []
        async with app.run_test(size=SIZE) as pilot:
            seen.append(("start", app.focused.id, app.title))
            for key in "2341":
                await pilot.press(key)
                await pilot.pause()
                seen.append((key, app.focused.id, app.title))
            await pilot.click("#views Tab#--content-tab-sources")  # the mouse, too
            await pilot.pause()
            seen.append(("click", app.focused.id, app.title))
        return seen

    seen = run(scenario())
    assert seen[0] == ("start", "components-table", "lgr dashboard · components")
    for key, focused, title in seen[1:5]:
        view, table = VIEW_TABLES[key]
        assert (focused, title) == (table, f"lgr dashboard · {view}")
    assert seen[5][1:] == ("sources-table", "lgr dashboard · sources")


def test_c_clears_the_filters_after_a_regex_edit():
    async def scenario():
        app, *_ = make_app(seconds=2)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("slash")
            for char in "declined":
                await pilot.press(char)
            await pilot.press("enter")  # done editing: the table has the keys again
            await pilot.pause()
            narrowed = app.query_one(StreamTable).row_count
            focused = app.focused.id
            await pilot.press("c")
            await pilot.pause()
            return (narrowed, focused, app.query_one("#filter-regex", Input).value,
                    app.query_one(StreamTable).row_count)

    narrowed, focused, regex, rows = run(scenario())
    assert narrowed == 2 and focused == "stream-table"
    assert regex == "" and rows == 2 * PER_SECOND


def test_nothing_is_cut_off_at_160_columns():
    long_name = 'dropped{direction="ingress",metric_version="1.0"}'

    async def scenario():
        app, feed, *_ = make_app(seconds=3)
        feed.ingest([envelope.counter(long_name, delta=1, total=7, source_id="doppler")])
        feed.snapshot()
        cut = []
        async with app.run_test(size=(160, 45)) as pilot:
            for key in "1234":
                await pilot.press(key)
                await pilot.pause()
                for table in app.query(DataTable):
                    if table.region.width == 0:
                        continue  # another view's
                    if table.virtual_size.width > table.scrollable_content_region.width:
                        cut.append((key, table.id, table.virtual_size.width,
                                    table.scrollable_content_region.width))
                    for column in table.columns.values():
                        if not column.auto_width and column.content_width > column.width:
                            cut.append((key, table.id, str(column.label)))
                    if table.id == "metrics-table":
                        names = {str(table.get_row_at(i)[1]) for i in range(table.row_count)}
                        if long_name not in names:
                            cut.append((key, "metric name", sorted(names)))
                for box in app.query(Input):
                    if box.region.width and len(box.placeholder) > box.content_region.width:
                        cut.append((key, box.id, box.placeholder))
        return cut

    assert run(scenario()) == []
