"""Sources view: the busiest sources first, their counts per type and the drops they report."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from lgr.core.envelope import KINDS
from lgr.core.observe.firehose_feed import OTHER_SOURCES, FeedSnapshot
from lgr.tui import format as fmt
from lgr.tui.messages import SourcePicked

COLUMNS = ("source id", "env/s", "share", "total", *KINDS, "dropped")
SHARE_WIDTH = 12


class SourcesView(Vertical):
    """Top sources by rate; Enter (or a click) on one filters the stream by it."""

    def compose(self) -> ComposeResult:
        yield Static(id="sources-summary")
        table: DataTable = DataTable(id="sources-table", cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        yield table

    def show(self, snap: FeedSnapshot) -> None:
        table = self.query_one(DataTable)
        selected = self.selected_source()
        table.clear()
        top = max((s.rate for s in snap.sources), default=0.0)
        for s in snap.sources:
            share = _bar(s.rate, top)
            dropped = s.dropped_total
            table.add_row(
                Text(s.source_id or "(no source id)", style="bold" if s.rate else ""),
                Text(fmt.rate(s.rate), justify="right"),
                Text(share, style="cyan"),
                Text(fmt.number(s.total), justify="right"),
                *[Text(fmt.number(s.by_kind.get(k, 0)), justify="right",
                       style="" if s.by_kind.get(k) else "dim") for k in KINDS],
                Text(_drops(s.dropped), style="bold red" if dropped else "dim"),
                key=s.source_id,
            )
        keys = [s.source_id for s in snap.sources]
        if selected in keys:
            table.move_cursor(row=keys.index(selected), animate=False)
        summary = Text()
        summary.append(f"{snap.source_count} sources", style="bold")
        summary.append(" · " + " · ".join(f"{k} {fmt.number(n)}" for k, n in snap.by_kind.items()))
        summary.append(" · Enter on a source filters the firehose by it", style="dim")
        self.query_one("#sources-summary", Static).update(summary)

    def selected_source(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except Exception:  # noqa: BLE001 - cursor outside the rows
            return None
        return None if key.value is None else str(key.value)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        source = event.row_key.value
        if source is not None and source != OTHER_SOURCES:
            self.post_message(SourcePicked(str(source)))


def _bar(value: float, top: float) -> str:
    if top <= 0 or value <= 0:
        return ""
    eighths = round(value / top * SHARE_WIDTH * 8)
    full, rest = divmod(max(1, eighths), 8)
    return "█" * full + ("▏▎▍▌▋▊▉"[rest - 1] if rest else "")


def _drops(by_direction: dict[str, int]) -> str:
    if not by_direction:
        return "-"
    return ", ".join(f"{fmt.number(n)} {d}" for d, n in sorted(by_direction.items()))
