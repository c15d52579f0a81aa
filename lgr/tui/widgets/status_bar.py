"""Status bar: the stream's connection state, rates and totals, in one line under the header."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from lgr.core.observe.connection_status import CONNECTED, CONNECTING, INJECTED, RETRYING
from lgr.core.observe.firehose_feed import FeedSnapshot
from lgr.tui import format as fmt

_STATE_STYLES = {
    CONNECTED: ("●", "bold green"),
    INJECTED: ("●", "bold green"),
    CONNECTING: ("…", "bold yellow"),
    RETRYING: ("✗", "bold red"),
}


class StatusBar(Static):
    """Shows a FeedSnapshot: a red line with the reason while it cannot connect."""

    def show(self, snap: FeedSnapshot, now: float, paused: bool) -> None:
        status = snap.status
        mark, style = _STATE_STYLES.get(status.state, ("■", "dim"))
        text = Text()
        text.append(f"{mark} {status.state} ", style=style)
        if status.state == RETRYING:
            # The reason gets its own wrapped lines: it is what the operator has to act on.
            text.append(f"(attempt {status.attempt}; not connected for "
                        f"{fmt.duration(now - status.since)})", style="red")
            self.set_class(True, "-failing")
        else:
            text.append(status.message)
            self.set_class(False, "-failing")
        text.append("  │  ", style="dim")
        text.append(f"{fmt.rate(snap.rate)}", style="bold")
        text.append(f" · {fmt.number(snap.total)} envelopes · {snap.source_count} sources")
        if snap.stream_dropped:
            text.append(f" · rlp dropped {fmt.number(snap.stream_dropped)} for this dashboard",
                        style="bold red")
        if snap.sample_every > 1:
            text.append(f" · display samples 1 in {snap.sample_every}", style="yellow")
        if paused:
            text.append("  ❚❚ PAUSED", style="bold reverse yellow")
        if status.state == RETRYING:
            text.append("\n" + status.message, style="red")
        self.update(text)
