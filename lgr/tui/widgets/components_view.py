"""Components view: every watched component's health, uptime and envelope rates, with sparklines."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from lgr.core.observe.components import ComponentStatus
from lgr.tui import format as fmt
from lgr.tui.widgets.metric_plot import MetricPlot

COLUMNS = ("component", "kind", "health", "uptime", "ingress", "egress", "dropped",
           "ingress, last 60 s", "drops, last 60 s")
SPARK_WIDTH = 24
NO_TARGETS = ("No components to watch. Run `lgr up` (the dashboard reads its state), or pass "
              "--metrics NAME=URL for each component's metrics endpoint.")


class ComponentsView(Vertical):
    """A table of ComponentStatus rows; drops in red with their direction; reasons for any down."""

    def compose(self) -> ComposeResult:
        table: DataTable = DataTable(id="components-table", cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        yield table
        yield Static(id="components-notes")
        yield MetricPlot(id="firehose-rate-plot")

    def show(self, statuses: list[ComponentStatus], now: float, rate_history: list[float]) -> None:
        table = self.query_one(DataTable)
        names = [s.name for s in statuses]
        if [str(k.value) for k in table.rows] != names:
            table.clear()
            for status in statuses:
                table.add_row(*self._cells(status, now), key=status.name)
        else:
            for status in statuses:
                for column, cell in zip(table.columns, self._cells(status, now)):
                    table.update_cell(status.name, column, cell)
        self.query_one("#components-notes", Static).update(self._notes(statuses))
        self.query_one(MetricPlot).plot_values("envelopes reaching this dashboard", rate_history)

    def _cells(self, s: ComponentStatus, now: float) -> list[object]:
        health = {
            "up": Text("● up", style="green"),
            "down": Text("✗ down", style="bold red"),
        }.get(s.health, Text("? " + s.health, style="dim"))
        return [
            Text(s.name, style="bold"), s.target.kind, health,
            fmt.duration(s.uptime(now), s.uptime_exact),
            Text(fmt.rate(s.ingress_rate), justify="right"),
            Text(fmt.rate(s.egress_rate), justify="right"),
            _dropped(s),
            Text(fmt.sparkline(s.ingress_history, SPARK_WIDTH), style="cyan"),
            Text(fmt.sparkline(s.dropped_history, SPARK_WIDTH),
                 style="red" if any(s.dropped_history) else "dim"),
        ]

    def _notes(self, statuses: list[ComponentStatus]) -> Text:
        if not statuses:
            return Text(NO_TARGETS, style="yellow")
        text = Text()
        for s in statuses:
            if s.health == "down":
                text.append(f"✗ {s.name}: {s.error}\n", style="red")
            elif s.restarts:
                text.append(f"↻ {s.name} restarted {s.restarts}× while watched\n", style="yellow")
        total = sum(1 for s in statuses if s.health == "up")
        text.append(f"{total} of {len(statuses)} components up · rates per second over the last poll",
                    style="dim")
        return text


def _dropped(s: ComponentStatus) -> Text:
    if s.dropped_rate > 0:
        parts = [f"{fmt.rate(r)} {d}" for d, r in sorted(s.dropped_rates.items()) if r > 0]
        return Text(" ".join(parts), style="bold white on red")
    totals = {d: t for d, t in s.dropped_totals.items() if t}
    if totals:
        return Text("0/s (" + ", ".join(f"{fmt.number(t)} {d}" for d, t in sorted(totals.items()))
                    + " before)", style="yellow")
    return Text("-" if s.health != "up" else "0/s", style="dim")
