"""`lgr emit`: send one envelope to an agent: a log, counter, gauge, timer or event."""

from __future__ import annotations

import typer

from lgr.core.errors import NotBuiltError

app = typer.Typer(
    help="Send one envelope to an agent: a log, counter, gauge, timer or event.",
    no_args_is_help=True,
)

_HINT = "any loggregator-api v2 client, such as go-loggregator, can send envelopes to an agent"


@app.command()
def log() -> None:
    """Send a log envelope (not built yet)."""
    raise NotBuiltError("lgr emit log", hint=_HINT)


@app.command()
def counter() -> None:
    """Send a counter envelope (not built yet)."""
    raise NotBuiltError("lgr emit counter", hint=_HINT)


@app.command()
def gauge() -> None:
    """Send a gauge envelope (not built yet)."""
    raise NotBuiltError("lgr emit gauge", hint=_HINT)


@app.command()
def timer() -> None:
    """Send a timer envelope (not built yet)."""
    raise NotBuiltError("lgr emit timer", hint=_HINT)


@app.command()
def event() -> None:
    """Send an event envelope (not built yet)."""
    raise NotBuiltError("lgr emit event", hint=_HINT)
