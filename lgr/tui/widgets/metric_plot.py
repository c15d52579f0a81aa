"""Metric plot: a live area chart of one series in block characters, with value and time axes."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from lgr.core.observe.series import Series
from lgr.tui import format as fmt

LABEL_WIDTH = 8
_BLOCKS = " ▁▂▃▄▅▆▇█"
_SPAN_LIMIT = 600  # seconds shown at most: the last ten minutes


class MetricPlot(Widget):
    """Plots a Series: a counter as its per-second rate, a gauge as its value."""

    DEFAULT_CSS = "MetricPlot { height: 1fr; }"

    def __init__(self, empty: str = "Pick a counter or gauge on the left to plot it.", **kwargs) -> None:
        super().__init__(**kwargs)
        self.series: Series | None = None
        self.empty = empty
        self._values: tuple[str, list[float]] | None = None

    def plot(self, series: Series | None) -> None:
        """Plot ``series`` (re-read on every refresh)."""
        self.series, self._values = series, None
        self.refresh()

    def plot_values(self, title: str, values: list[float]) -> None:
        """Plot plain per-second ``values`` (oldest first) under ``title``."""
        self.series, self._values = None, (title, list(values))
        self.refresh()

    def render(self) -> Text:
        if self._values is not None:
            name, values, from_zero, what = self._values[0], self._values[1], True, "per second"
        elif self.series is not None:
            key = self.series.key
            name, values, from_zero = key.title, self.series.values(), key.kind == "counter"
            what = "rate per second" if key.kind == "counter" else (self.series.unit or "value")
        else:
            return Text(self.empty, style="dim")
        title = Text()
        title.append(name, style="bold")
        title.append(f" · {what}", style="dim")
        if values:
            title.append(f" · now {fmt.number(values[-1])} · min {fmt.number(min(values))}"
                         f" · max {fmt.number(max(values))}")
        title.truncate(max(1, self.size.width), overflow="ellipsis")
        width = max(4, self.size.width - LABEL_WIDTH - 1)
        height = max(2, self.size.height - 2)
        if not values:
            return title + Text("\n\nwaiting for data (one point a second)…", style="dim")
        return Text("\n").join([title, *chart(values, width, height, from_zero)])


def chart(values: list[float], width: int, height: int, from_zero: bool) -> list[Text]:
    """An area chart: ``height`` rows of eighth-blocks over ``width`` columns, then the time axis.

    Block characters, not braille, so that every terminal font (and SVG renderer) draws it. With
    more points than columns, each column shows the mean of its share of the points.
    """
    points = _buckets(values, width)
    lo, hi = min(points), max(points)
    if from_zero:
        lo = min(lo, 0.0)
    if hi == lo:
        hi = lo + (abs(lo) or 1.0)
    if not from_zero:  # headroom below, so the lowest value still shows as a bar
        lo -= (hi - lo) / max(1, height - 1)
    eighths = [round((v - lo) / (hi - lo) * height * 8) for v in points]
    pad = width - len(points)
    labels = {0: hi, height - 1: lo}
    if height > 4:
        labels[height // 2] = lo + (hi - lo) * (height - height // 2 - 0.5) / height
    out = []
    for r in range(height):
        floor = (height - 1 - r) * 8  # eighths below this row
        label = fmt.number(labels[r]) if r in labels else ""
        # Blank runs go in unstyled segments of their own: SVG exports then place the text after
        # them by position rather than by counting spaces, which some renderers collapse.
        line = Text(" " * (LABEL_WIDTH - len(label)))
        line.append(label + ("┤" if label else "│"), style="dim")
        line.append(" " * pad)
        line.append("".join(_BLOCKS[max(0, min(8, e - floor))] for e in eighths), style="cyan")
        out.append(line)
    span = fmt.duration(len(values[-_SPAN_LIMIT:]))
    axis = Text(" " * LABEL_WIDTH + "└" + "─" * width + "\n", style="dim")
    left, right = f"-{span}", "now"
    axis.append(" " * (LABEL_WIDTH + 1) + left + " " * max(1, width - len(left) - len(right)) + right,
                style="dim")
    out.append(axis)
    return out


def _buckets(values: list[float], width: int) -> list[float]:
    values = values[-_SPAN_LIMIT:]
    if len(values) <= width:
        return list(values)
    size = len(values) / width
    return [sum(chunk) / len(chunk) for chunk in
            (values[int(i * size):max(int(i * size) + 1, int((i + 1) * size))] for i in range(width))]
