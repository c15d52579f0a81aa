"""How `lgr tail` prints: cf tail's lines (or protojson), exact bytes when piped, colours on a terminal."""

from __future__ import annotations

import sys

from lgr.console import console
from lgr.core.regex import Regex

LABEL_STYLES = {"ERR": "red", "COUNTER": "magenta", "GAUGE": "blue", "TIMER": "yellow", "EVENT": "green"}


class TextFilter:
    """--include / --exclude over the rendered text."""

    def __init__(self, include: Regex | None, exclude: Regex | None) -> None:
        self.include, self.exclude = include, exclude
        self.active = include is not None or exclude is not None

    def __call__(self, text: str) -> bool:
        if self.include is not None and not self.include.search(text):
            return False
        return self.exclude is None or not self.exclude.search(text)


class Printer:
    """Renders batches to stdout: exact bytes when piped, rich colours on a terminal."""

    def __init__(self, as_json: bool, new_line: str | None, keep: TextFilter, colour: bool) -> None:
        from lgr.core import protojson, render

        self._render, self._protojson = render, protojson
        self.as_json, self.new_line, self.keep, self.colour = as_json, new_line, keep, colour
        self.shown = 0
        self.history = 0  # of those shown, how many came from the log cache before the live stream

    def print_batch(self, batch, count: int | None) -> bool:
        """Print what passes the filters; True once ``count`` envelopes have been printed."""
        out: list[bytes] = []
        done = False
        for env in batch:
            if self.as_json:
                text = self._protojson.envelope_json(env)
                if self.keep.active and not self.keep(text):
                    continue
                out.append(text.encode("utf-8") + b"\n")
            else:
                line = self._render.pretty(env, new_line=self.new_line)
                if self.keep.active and not self.keep(line.text()):
                    continue
                if self.colour:
                    console.print(_styled(line), soft_wrap=True, highlight=False)
                else:
                    out.append(line.to_bytes())
            self.shown += 1
            if count is not None and self.shown >= count:
                done = True
                break
        if out:
            sys.stdout.buffer.write(b"".join(out))
            sys.stdout.buffer.flush()
        return done


def _styled(line):
    from rich.text import Text

    if not line.label:  # an envelope without a message: Go prototext
        return Text(line.text(), style="dim")
    text = Text()
    stamp, _, source = line.header.strip().partition(" ")
    text.append("   ")
    text.append(stamp, style="dim")
    text.append(" ")
    text.append(source, style="cyan")
    text.append(" ")
    style = LABEL_STYLES.get(line.label, "")
    text.append(line.label, style=style)
    body = line.body[:-1] if line.body.endswith(b"\n") else line.body
    text.append(" " + body.decode("utf-8", errors="replace"), style="red" if line.label == "ERR" else "")
    return text
