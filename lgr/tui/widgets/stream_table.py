"""Stream table: the newest envelopes, rendered as `lgr tail` prints them; select one for details.

At most ``max_rows`` rows are kept (the oldest go). The view follows new rows while the cursor
is on the last one; move the cursor up to stop following, End to follow again.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable

from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.tui import format as fmt
from lgr.tui.messages import EnvelopeSelected

SOURCE_WIDTH = 22


class StreamTable(DataTable):
    """Rows of (source id, tail line); each row remembers its envelope."""

    def __init__(self, max_rows: int = 500, **kwargs) -> None:
        super().__init__(cursor_type="row", **kwargs)
        self.max_rows = max_rows
        self._envelopes: OrderedDict[str, envelope_pb2.Envelope] = OrderedDict()
        self._ids = itertools.count()

    def on_mount(self) -> None:
        self.add_column("source id", width=SOURCE_WIDTH, key="source")
        self.add_column("envelope (as lgr tail prints it)", key="line")

    @property
    def following(self) -> bool:
        return self.row_count == 0 or self.cursor_row >= self.row_count - 1

    def append(self, envelopes: Sequence[envelope_pb2.Envelope]) -> None:
        """Add rows for ``envelopes`` (oldest first), dropping the oldest rows past ``max_rows``."""
        if not envelopes:
            return
        follow = self.following
        envelopes = list(envelopes)[-self.max_rows:]
        overflow = len(self._envelopes) + len(envelopes) - self.max_rows
        if overflow > 0:
            if overflow > self.max_rows // 4:
                kept = list(self._envelopes.values())[overflow:]
                self.replace(kept + envelopes, follow)
                return
            cursor = self.cursor_row
            for _ in range(overflow):
                key, _env = self._envelopes.popitem(last=False)
                self.remove_row(key)
            if not follow:
                self.move_cursor(row=max(0, cursor - overflow), animate=False, scroll=False)
        self._add(envelopes)
        if follow:
            self.move_cursor(row=self.row_count - 1, animate=False)

    def replace(self, envelopes: Sequence[envelope_pb2.Envelope], follow: bool = True) -> None:
        """Show exactly ``envelopes`` (the newest ``max_rows``)."""
        self.clear()
        self._envelopes.clear()
        self._add(list(envelopes)[-self.max_rows:])
        if follow and self.row_count:
            self.move_cursor(row=self.row_count - 1, animate=False)

    def envelope_at_cursor(self) -> envelope_pb2.Envelope | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return self._envelopes.get(str(key))

    def follow(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1, animate=False)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        env = self._envelopes.get(str(event.row_key.value))
        if env is not None:
            self.post_message(EnvelopeSelected(env))

    def _add(self, envelopes: Sequence[envelope_pb2.Envelope]) -> None:
        for env in envelopes:
            key = str(next(self._ids))
            self._envelopes[key] = env
            source = env.source_id or "-"
            if len(source) > SOURCE_WIDTH:
                source = source[: SOURCE_WIDTH - 1] + "…"
            self.add_row(Text(source, style="bold"), fmt.envelope_line(env), key=key)
