"""`lgr router`: run the router (upstream's doppler), which fans envelopes out to subscribers."""

from __future__ import annotations

import typer

from lgr.core.errors import NotBuiltError

app = typer.Typer(
    help="Router (doppler): fans envelopes out to subscribers by their selectors.",
    no_args_is_help=True,
)


@app.command()
def start() -> None:
    """Start the router (not built yet)."""
    raise NotBuiltError(
        "lgr router",
        hint="upstream's router (doppler) speaks the same protocol and can stand in",
    )
