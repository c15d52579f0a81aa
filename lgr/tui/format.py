"""Format: short human numbers, durations, sparklines and envelope lines for the dashboard's cells."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from lgr.core import render
from lgr.core._proto.loggregator.v2 import envelope_pb2

SPARK_CHARS = "▁▂▃▄▅▆▇█"
LABEL_STYLES = {"ERR": "red", "OUT": "", "COUNTER": "magenta", "GAUGE": "blue", "TIMER": "yellow",
                "EVENT": "green"}


def number(value: float | None) -> str:
    """1234 → ``1.2k``; None → ``-``."""
    if value is None:
        return "-"
    magnitude = abs(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if magnitude >= limit:
            return f"{value / limit:.1f}{suffix}"
    if magnitude and magnitude < 10 and value != int(value):
        return f"{value:.1f}"
    return f"{value:.0f}"


def rate(value: float | None) -> str:
    return "-" if value is None else f"{number(value)}/s"


def duration(seconds: float | None, exact: bool = True) -> str:
    """``3d04h``, ``2h05m``, ``4m10s``, ``12s``; ``≥`` in front when only a lower bound."""
    if seconds is None:
        return "-"
    s = int(seconds)
    if s >= 86400:
        text = f"{s // 86400}d{s % 86400 // 3600:02d}h"
    elif s >= 3600:
        text = f"{s // 3600}h{s % 3600 // 60:02d}m"
    elif s >= 60:
        text = f"{s // 60}m{s % 60:02d}s"
    else:
        text = f"{s}s"
    return text if exact else f"≥{text}"


def sparkline(values: Sequence[float], width: int) -> str:
    """The last ``width`` values as block characters scaled to their max (blank when none)."""
    values = list(values)[-width:]
    if not values:
        return " " * width
    top = max(values)
    if top <= 0:
        chars = SPARK_CHARS[0] * len(values)
    else:
        chars = "".join(SPARK_CHARS[min(7, int(v / top * 7.999))] if v > 0 else SPARK_CHARS[0]
                        for v in values)
    return chars.rjust(width)


def envelope_line(env: envelope_pb2.Envelope, max_chars: int = 400) -> Text:
    """The envelope as `lgr tail` prints it, styled, one line (newlines shown as ⏎)."""
    line = render.pretty(env)
    if not line.label:
        return Text(line.text()[:max_chars].replace("\n", "⏎"), style="dim")
    stamp, _, source = line.header.strip().partition(" ")
    body = line.body[:-1] if line.body.endswith(b"\n") else line.body
    body_text = body[: max_chars * 4].decode("utf-8", errors="replace").replace("\n", "⏎")[:max_chars]
    text = Text()
    text.append(stamp, style="dim")
    text.append(" ")
    text.append(source, style="cyan")
    text.append(" ")
    text.append(line.label, style=LABEL_STYLES.get(line.label, ""))
    text.append(" " + body_text, style="red" if line.label == "ERR" else "")
    return text
