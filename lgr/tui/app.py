"""Dashboard app: four views over a FirehoseFeed and a ComponentWatcher, refreshed on a timer.

The app never reads the network: the feed runner and the component watcher do that on their
own threads (lgr.core.observe), and the app polls their snapshots every ``refresh`` seconds,
taking at most ``rows_per_refresh`` new envelopes for the stream table each time — so the UI
costs the same at 100 envelopes a second as at 100,000.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.css.query import NoMatches
from textual.widgets import Footer, Header, TabbedContent, TabPane

from lgr.core.observe.components import ComponentWatcher
from lgr.core.observe.envelope_filter import EnvelopeFilter
from lgr.core.observe.feed_runner import FeedRunner
from lgr.core.observe.firehose_feed import OTHER_SOURCES, FirehoseFeed
from lgr.core.observe.series import SeriesBook
from lgr.tui.messages import EnvelopeSelected, FilterChanged, MetricPicked, SourcePicked
from lgr.tui.widgets.components_view import ComponentsView
from lgr.tui.widgets.envelope_detail import EnvelopeDetail
from lgr.tui.widgets.filter_bar import FilterBar
from lgr.tui.widgets.firehose_view import FirehoseView
from lgr.tui.widgets.metrics_view import MetricsView
from lgr.tui.widgets.sources_view import SourcesView
from lgr.tui.widgets.status_bar import StatusBar
from lgr.tui.widgets.stream_table import StreamTable

VIEWS = ("components", "firehose", "sources", "metrics")
# The widget each view focuses when shown, so the arrow keys and Enter work at once.
VIEW_TABLES = {"components": "#components-table", "firehose": "#stream-table",
               "sources": "#sources-table", "metrics": "#metrics-table"}
BACKFILL = 200  # envelopes of the recent sample shown at once when the filter changes


class DashboardApp(App[None]):
    """`lgr dashboard`. ``runner`` and ``watcher`` are started with the app (unless
    ``start_background`` is False: tests poll them by hand) and stopped with it."""

    CSS_PATH = "dashboard.tcss"
    TITLE = "lgr dashboard"
    BINDINGS = [
        Binding("1", "view('components')", "Components"),
        Binding("2", "view('firehose')", "Firehose"),
        Binding("3", "view('sources')", "Sources"),
        Binding("4", "view('metrics')", "Metrics"),
        Binding("p", "toggle_pause", "Pause/resume"),
        Binding("slash", "focus_regex", "Regex"),
        Binding("c", "clear_filters", "Clear filters"),
        Binding("end", "follow", "Follow", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        feed: FirehoseFeed,
        watcher: ComponentWatcher | None = None,
        runner: FeedRunner | None = None,
        *,
        series: SeriesBook | None = None,
        source_name: str = "the stream",
        refresh: float = 0.25,
        rows_per_refresh: int = 100,
        max_rows: int = 500,
        clock: Callable[[], float] = time.time,
        initial_view: str = "components",
        start_background: bool = True,
    ) -> None:
        super().__init__()
        self.feed = feed
        self.watcher = watcher
        self.runner = runner
        self.series = series or feed.series
        self.source_name = source_name
        self.refresh_interval = refresh
        self.rows_per_refresh = rows_per_refresh
        self.max_rows = max_rows
        self.clock = clock
        self.initial_view = initial_view
        self.start_background = start_background
        self.sub_title = source_name
        self._screenshot: tuple[Path, float] | None = None

    def screenshot_after(self, path: Path, seconds: float) -> None:
        """Once running, save an SVG of the screen to ``path`` after ``seconds``, then exit."""
        self._screenshot = (path, seconds)

    def compose(self) -> ComposeResult:
        yield Header()
        yield StatusBar(id="status-bar")
        with TabbedContent(initial=self.initial_view, id="views"):
            with TabPane("Components [1]", id="components"):
                yield ComponentsView(id="components-view")
            with TabPane("Firehose [2]", id="firehose"):
                yield FirehoseView(max_rows=self.max_rows, id="firehose-view")
            with TabPane("Sources [3]", id="sources"):
                yield SourcesView(id="sources-view")
            with TabPane("Metrics [4]", id="metrics"):
                yield MetricsView(self.series, id="metrics-view")
        yield Footer()

    def on_mount(self) -> None:
        if self.start_background:
            if self.runner is not None:
                self.runner.start()
            if self.watcher is not None:
                self.watcher.start()
        self.update_views()
        self._show_view(self.initial_view)
        self.set_interval(self.refresh_interval, self.update_views, name="dashboard-refresh")
        if self._screenshot is not None:
            self.set_timer(self._screenshot[1], self._save_screenshot_and_exit)

    def _save_screenshot_and_exit(self) -> None:
        self.update_views()
        path = self._screenshot[0]
        self.call_after_refresh(lambda: (path.write_text(self.export_screenshot(), encoding="utf-8"),
                                         self.exit()))

    def on_unmount(self) -> None:
        if self.runner is not None:
            self.runner.stop()
        if self.watcher is not None:
            self.watcher.stop()

    @property
    def main_screen(self) -> Screen:
        """The dashboard's own screen, under any modal (envelope detail, command palette)."""
        return self.screen_stack[0]

    # --- refresh -------------------------------------------------------------------------------

    def update_views(self) -> None:
        """Pull the latest snapshots into every view (the timer calls this; tests may too)."""
        if not self.screen_stack:
            return
        try:
            self._update_views()
        except NoMatches:
            # The timer can fire while the app is still composing or already tearing down.
            return

    def _update_views(self) -> None:
        now = self.clock()
        snap = self.feed.snapshot()
        self.main_screen.query_one(StatusBar).show(snap, now, self.feed.paused)
        firehose = self.main_screen.query_one(FirehoseView)
        if not self.feed.paused:
            envelopes, skipped = self.feed.take(self.rows_per_refresh)
            firehose.shown += len(envelopes)
            firehose.skipped += skipped
            self.main_screen.query_one(StreamTable).append(envelopes)
        firehose.show_summary(self.feed.filter, self.feed.paused, self.source_name)
        active = self.main_screen.query_one(TabbedContent).active
        if active == "components" or self.watcher is None:
            statuses = self.watcher.statuses() if self.watcher else []
            self.main_screen.query_one(ComponentsView).show(statuses, now, snap.rate_history)
        if active == "sources":
            self.main_screen.query_one(SourcesView).show(snap)
        if active == "metrics":
            self.main_screen.query_one(MetricsView).show()

    # --- actions -------------------------------------------------------------------------------

    def action_view(self, view: str) -> None:
        self.main_screen.query_one(TabbedContent).active = view
        self.update_views()
        self._show_view(view)

    def _show_view(self, view: str) -> None:
        """Name ``view`` in the title and move the focus into its table, unless it already is
        somewhere in that view (the regex input after `/`)."""
        self.title = f"lgr dashboard · {view}"
        pane = self.main_screen.query_one(f"#{view}", TabPane)
        focused = self.main_screen.focused
        if focused is None or pane not in focused.ancestors:
            self.main_screen.query_one(VIEW_TABLES[view]).focus()

    def action_toggle_pause(self) -> None:
        self.feed.set_paused(not self.feed.paused)
        self.notify("stream paused: counting goes on" if self.feed.paused else "stream resumed",
                    timeout=2)
        self.update_views()

    def action_focus_regex(self) -> None:
        self.action_view("firehose")
        self.main_screen.query_one("#filter-regex").focus()

    def action_clear_filters(self) -> None:
        self.main_screen.query_one(FilterBar).clear()

    def action_follow(self) -> None:
        self.main_screen.query_one(StreamTable).follow()

    def pick_source(self, source_id: str) -> None:
        """Filter the stream by ``source_id`` and show it."""
        self.main_screen.query_one(FilterBar).set_source(source_id)
        self.action_view("firehose")
        self.main_screen.query_one(StreamTable).focus()

    # --- messages ------------------------------------------------------------------------------

    def on_filter_changed(self, message: FilterChanged) -> None:
        self.apply_filter(message.filter)

    def apply_filter(self, flt: EnvelopeFilter) -> None:
        backfill = self.feed.set_filter(flt, backfill=BACKFILL)
        firehose = self.main_screen.query_one(FirehoseView)
        firehose.shown, firehose.skipped = len(backfill), 0
        self.main_screen.query_one(StreamTable).replace(backfill)
        firehose.show_summary(flt, self.feed.paused, self.source_name)

    def on_source_picked(self, message: SourcePicked) -> None:
        self.pick_source(message.source_id)

    def on_envelope_selected(self, message: EnvelopeSelected) -> None:
        self.push_screen(EnvelopeDetail(message.envelope))

    def on_metric_picked(self, message: MetricPicked) -> None:
        self.sub_title = f"{self.source_name} · plotting {message.key.title}"

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.update_views()
        if event.pane.id in VIEW_TABLES:  # a click on a tab, or the initial view
            self._show_view(event.pane.id)

    def on_input_submitted(self, event) -> None:  # noqa: ANN001 - Input.Submitted
        # Enter in a filter input: done editing; the table takes the keys again (c, p, /).
        if event.input.id and event.input.id.startswith("filter-"):
            self.main_screen.query_one(StreamTable).focus()

    # --- command palette -----------------------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for view in VIEWS:
            yield SystemCommand(f"Show {view}", f"Switch to the {view} view",
                                lambda v=view: self.action_view(v))
        yield SystemCommand("Pause or resume the stream", "Freeze the firehose table; counting goes on",
                            self.action_toggle_pause)
        yield SystemCommand("Clear filters", "Show every envelope again", self.action_clear_filters)
        for stats in self.feed.snapshot(top=20).sources:
            if stats.source_id != OTHER_SOURCES:
                yield SystemCommand(f"Filter by source {stats.source_id}",
                                    f"{stats.rate:.0f} envelopes/s: show only this source",
                                    lambda s=stats.source_id: self.pick_source(s))
        for key in self.series.keys()[:100]:
            yield SystemCommand(f"Plot {key.title}", "Show this series in the metrics view",
                                lambda k=key: self._plot(k))

    def _plot(self, key) -> None:
        self.action_view("metrics")
        self.main_screen.query_one(MetricsView).pick(key)
