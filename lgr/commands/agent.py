"""`lgr agent`: run the agent, which takes envelopes from apps and forwards them to routers."""

from __future__ import annotations

import typer

from lgr.core.errors import NotBuiltError

app = typer.Typer(
    help="Agent: takes envelopes from apps (v2 gRPC, v1 UDP) and forwards them to routers.",
    no_args_is_help=True,
)


@app.command()
def start() -> None:
    """Start the agent (not built yet)."""
    raise NotBuiltError(
        "lgr agent",
        issue=3,
        hint="upstream's loggregator-agent speaks the same protocol and can stand in",
    )
