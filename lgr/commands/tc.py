"""`lgr tc`: run the traffic controller, which serves the v1 firehose over websockets."""

from __future__ import annotations

import typer

from lgr.core.errors import NotBuiltError

app = typer.Typer(
    help="Traffic controller: serves the v1 firehose and app streams over websockets.",
    no_args_is_help=True,
)


@app.command()
def start() -> None:
    """Start the traffic controller (not built yet)."""
    raise NotBuiltError(
        "lgr tc",
        hint="upstream's trafficcontroller speaks the same protocol and can stand in",
    )
