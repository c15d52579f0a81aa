"""`lgr router`: run the router (upstream's doppler), which fans envelopes out to subscribers."""

from __future__ import annotations

import typer

from lgr.commands._serve import config_command, serve
from lgr.core.apps.router.config import RouterConfig

app = typer.Typer(
    help="Router (doppler): fans envelopes out to subscribers by their selectors.",
    no_args_is_help=True,
)


def _run(config: RouterConfig) -> None:
    from lgr.core.apps.router.app import Router  # imports grpc: keep `lgr --help` fast

    serve(Router(config))


app.command("start")(config_command(
    RouterConfig,
    _run,
    """Start the router: gRPC Ingress from agents and Egress to RLPs, over mutual TLS.

    Settings come from upstream's environment variables; each flag overrides its variable.
    Stop with Ctrl-C (a second Ctrl-C exits at once).
    """,
))
