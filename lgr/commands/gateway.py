"""`lgr gateway`: run the RLP gateway, which serves the reverse log proxy over HTTP."""

from __future__ import annotations

import typer

from lgr.core.errors import NotBuiltError

app = typer.Typer(
    help="RLP gateway: serves the reverse log proxy as HTTP server-sent events.",
    no_args_is_help=True,
)


@app.command()
def start() -> None:
    """Start the RLP gateway (not built yet)."""
    raise NotBuiltError(
        "lgr gateway",
        hint="upstream's rlp-gateway speaks the same protocol and can stand in",
    )
