"""Metrics view: every counter and gauge seen (in the stream or scraped); the picked one plotted live."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from lgr.core.observe.series import SeriesBook, SeriesKey
from lgr.tui import format as fmt
from lgr.tui.messages import MetricPicked
from lgr.tui.widgets.metric_plot import MetricPlot


class MetricsView(Horizontal):
    """A list of series on the left; the highlighted one plotted on the right."""

    def __init__(self, book: SeriesBook, **kwargs) -> None:
        super().__init__(**kwargs)
        self.book = book
        self._keys: dict[str, SeriesKey] = {}

    def compose(self) -> ComposeResult:
        table: DataTable = DataTable(id="metrics-table", cursor_type="row", zebra_stripes=True)
        table.add_column("origin", key="origin")
        table.add_column("name", key="name")  # whole names: the table widens up to its max-width
        table.add_column("kind", key="kind")
        table.add_column("latest", key="latest")
        table.add_column("via", key="via")
        yield table
        yield MetricPlot(id="metrics-plot")

    def show(self) -> None:
        table = self.query_one(DataTable)
        plot = self.query_one(MetricPlot)
        for key in self.book.keys():
            row = _row_key(key)
            series = self.book.find(key)
            latest = Text(fmt.number(series.latest if series else None), justify="right")
            if row not in self._keys:
                self._keys[row] = key
                table.add_row(key.origin, key.name, key.kind, latest,
                              Text(key.via, style="dim"), key=row)
            else:
                table.update_cell(row, "latest", latest)
        if plot.series is None and table.row_count:
            self._pick(table.cursor_row)
        plot.refresh()

    def pick(self, key: SeriesKey) -> None:
        """Highlight and plot ``key``."""
        table = self.query_one(DataTable)
        row = _row_key(key)
        if row in self._keys:
            table.move_cursor(row=table.get_row_index(row), animate=False)
        self.query_one(MetricPlot).plot(self.book.find(key))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._pick(event.cursor_row)

    def _pick(self, index: int) -> None:
        table = self.query_one(DataTable)
        if not 0 <= index < table.row_count:
            return
        row = table.coordinate_to_cell_key(Coordinate(index, 0)).row_key.value
        key = self._keys.get(str(row))
        if key is not None:
            self.query_one(MetricPlot).plot(self.book.find(key))
            self.post_message(MetricPicked(key))


def _row_key(key: SeriesKey) -> str:
    return "\x1f".join((key.via, key.origin, key.kind, key.name))
