"""The one Rich console of the CLI, and the helpers that print errors, warnings and notes."""

from __future__ import annotations

import os
import sys

from rich.console import Console



def _styles() -> dict[str, object]:
    # NO_COLOR (https://no-color.org: set and not empty) turns off every escape code: Rich's own
    # NO_COLOR handling drops colours but still writes bold and dim.
    return {"color_system": None} if os.environ.get("NO_COLOR", "") else {}


console = Console(highlight=False, **_styles())  # type: ignore[arg-type]
err_console = Console(stderr=True, highlight=False, **_styles())  # type: ignore[arg-type]


def debug_enabled() -> bool:
    """True when LGR_DEBUG asks for tracebacks."""
    return os.environ.get("LGR_DEBUG", "").strip().lower() not in ("", "0", "false", "no")


def error(message: str, hint: str | None = None) -> None:
    """Print one red error line, and a dim hint line under it when given."""
    # soft_wrap: a message longer than the terminal (or 80 columns in a pipe) stays one line,
    # so logs and scripts see exactly one error line.
    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    if hint:
        err_console.print(f"[dim]hint: {escape(hint)}[/]", soft_wrap=True)


def warn(message: str) -> None:
    """Print one yellow warning line to stderr."""
    err_console.print(f"[yellow]warning:[/] {escape(message)}", soft_wrap=True)


def note(message: str) -> None:
    """Print a dim informational line to stderr (stdout stays clean for data)."""
    err_console.print(f"[dim]{escape(message)}[/]", soft_wrap=True)


def escape(text: str) -> str:
    """Escape Rich markup in user-provided text."""
    from rich.markup import escape as _escape

    return _escape(text)


def is_tty() -> bool:
    """True when stdout is a terminal."""
    return sys.stdout.isatty()


def styled() -> bool:
    """True when stdout gets colours and styles: a terminal (or FORCE_COLOR), without NO_COLOR."""
    return console.is_terminal and console.color_system is not None
