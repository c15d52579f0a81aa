"""Filter bar: source id, type, name and regex inputs that filter the stream as you type."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Input, Select, Static

from lgr.core.envelope import KINDS
from lgr.core.observe.envelope_filter import EnvelopeFilter, make_filter, split_terms
from lgr.tui.messages import FilterChanged


class FilterBar(Horizontal):
    """Posts FilterChanged on every valid edit; a bad regex turns its input red and keeps the old filter."""

    def compose(self) -> ComposeResult:
        yield Input(placeholder="source id (app-*, a b)", id="filter-source")
        yield Select([(k, k) for k in KINDS], prompt="any type", id="filter-type")
        yield Input(placeholder="metric or event name", id="filter-name")
        yield Input(placeholder="regex over the line", id="filter-regex")
        yield Static(id="filter-error")

    def set_source(self, source_id: str) -> None:
        """Filter by exactly ``source_id`` (and clear the type), as picking a source does."""
        self.query_one("#filter-source", Input).value = source_id
        self.query_one("#filter-type", Select).clear()

    def clear(self) -> None:
        for name in ("source", "name", "regex"):
            self.query_one(f"#filter-{name}", Input).value = ""
        self.query_one("#filter-type", Select).clear()

    def current(self) -> EnvelopeFilter | None:
        """The filter the inputs describe, or None (and the error shown) when one is invalid."""
        kind = self.query_one("#filter-type", Select).value
        regex_input = self.query_one("#filter-regex", Input)
        try:
            flt = make_filter(
                split_terms(self.query_one("#filter-source", Input).value),
                [kind] if isinstance(kind, str) else [],
                self.query_one("#filter-name", Input).value,
                regex_input.value,
            )
        except ValueError as exc:
            regex_input.add_class("-invalid")
            self.query_one("#filter-error", Static).update(f"[red]{exc}[/]")
            return None
        regex_input.remove_class("-invalid")
        self.query_one("#filter-error", Static).update("")
        return flt

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._changed()

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        self._changed()

    def _changed(self) -> None:
        flt = self.current()
        if flt is not None:
            self.post_message(FilterChanged(flt))
