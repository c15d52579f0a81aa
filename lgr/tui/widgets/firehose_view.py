"""Firehose view: the filter bar over a live table of envelopes, and a line saying what is shown."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from lgr.core.observe.envelope_filter import EnvelopeFilter
from lgr.tui.widgets.filter_bar import FilterBar
from lgr.tui.widgets.stream_table import StreamTable


class FirehoseView(Vertical):
    """FilterBar + StreamTable + a one-line summary under them; Escape leaves the filter inputs."""

    BINDINGS = [Binding("escape", "focus_stream", "Back to the stream", show=False)]

    def __init__(self, max_rows: int = 500, **kwargs) -> None:
        super().__init__(**kwargs)
        self._max_rows = max_rows
        self.shown = 0
        self.skipped = 0

    def compose(self) -> ComposeResult:
        yield FilterBar(id="filter-bar")
        yield StreamTable(max_rows=self._max_rows, id="stream-table")
        yield Static(id="stream-summary")

    def action_focus_stream(self) -> None:
        self.query_one(StreamTable).focus()

    def show_summary(self, flt: EnvelopeFilter, paused: bool, waiting_for: str) -> None:
        table = self.query_one(StreamTable)
        text = Text()
        if paused:
            text.append("❚❚ paused — counting goes on; p resumes ", style="bold yellow")
        elif not table.row_count:
            text.append(f"waiting for envelopes from {waiting_for} ", style="dim")
        elif not table.following:
            text.append("not following — End jumps to the newest ", style="yellow")
        text.append(f"showing {table.row_count} of {self.shown} displayed", style="dim")
        if self.skipped:
            text.append(f" · {self.skipped} too fast to display (sampled)", style="dim yellow")
        text.append(" · filter: " + (flt.describe() or "none"), style="dim")
        text.append(" · Enter shows an envelope's fields", style="dim")
        self.query_one("#stream-summary", Static).update(text)
