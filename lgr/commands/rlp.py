"""`lgr rlp`: run the reverse log proxy, which merges every router's stream for consumers."""

from __future__ import annotations

import typer

from lgr.core.errors import NotBuiltError

app = typer.Typer(
    help="Reverse log proxy: merges every router's stream for gRPC consumers.",
    no_args_is_help=True,
)


@app.command()
def start() -> None:
    """Start the reverse log proxy (not built yet)."""
    raise NotBuiltError(
        "lgr rlp",
        hint="upstream's reverse log proxy speaks the same protocol and can stand in",
    )
