"""Envelope detail: a modal with every field of one envelope, its tags as a table, and its JSON."""

from __future__ import annotations

import json

from rich.console import Group
from rich.json import JSON
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from lgr.core import protojson, render
from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.tui import format as fmt


class EnvelopeDetail(ModalScreen[None]):
    """Shows ``envelope``; Escape, q or Enter closes it."""

    BINDINGS = [Binding("escape,q,enter", "dismiss", "Close")]

    def __init__(self, envelope: envelope_pb2.Envelope) -> None:
        super().__init__()
        self.envelope = envelope

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail-box"):
            yield Static(self.content(), id="detail-content")

    def content(self) -> Group:
        """Everything about the envelope, as one Rich renderable."""
        env = self.envelope
        fields = Table.grid(padding=(0, 2))
        fields.add_column(style="bold")
        fields.add_column()
        fields.add_row("source_id", env.source_id or "(empty)")
        fields.add_row("instance_id", env.instance_id or "(empty)")
        fields.add_row("timestamp", f"{env.timestamp} ({render.format_timestamp(env.timestamp)})")
        fields.add_row("type", env.WhichOneof("message") or "(none)")
        tags = Table(title="tags", title_justify="left", expand=False)
        tags.add_column("key")
        tags.add_column("value")
        tags.add_column("kind", style="dim")
        for key, value in sorted(env.tags.items()):
            tags.add_row(key, value, "tag")
        for key, value in sorted(env.deprecated_tags.items()):
            tags.add_row(key, render_value(value), "deprecated_tag")
        body = json.dumps(json.loads(protojson.envelope_json(env)), indent=2, ensure_ascii=False)
        return Group(
            Text("Envelope  (Esc closes)", style="bold reverse"),
            fmt.envelope_line(env, max_chars=2000),
            Text(),
            fields,
            Text(),
            tags if (env.tags or env.deprecated_tags) else Text("no tags", style="dim"),
            Text(),
            Text("as JSON (the rlp gateway's protojson)", style="bold"),
            JSON(body),
        )


def render_value(value: envelope_pb2.Value) -> str:
    kind = value.WhichOneof("data")
    return str(getattr(value, kind)) if kind else ""
