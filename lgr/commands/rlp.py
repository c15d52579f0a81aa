"""`lgr rlp`: run the reverse log proxy, which merges every router's stream for consumers."""

from __future__ import annotations

import typer

from lgr.commands._serve import config_command, serve
from lgr.core.apps.rlp.config import RlpConfig

app = typer.Typer(
    help="Reverse log proxy: merges every router's stream for gRPC consumers.",
    no_args_is_help=True,
)


def _run(config: RlpConfig) -> None:
    from lgr.core.apps.rlp.app import Rlp  # imports grpc: keep `lgr --help` fast

    serve(Rlp(config))


app.command("start")(config_command(
    RlpConfig,
    _run,
    """Start the reverse log proxy: gRPC Egress for consumers, reading from every router.

    Settings come from upstream's environment variables; each flag overrides its variable.
    RLP_PORT defaults to 8083 (upstream runs the RLP on its own host, on 8082).
    Stop with Ctrl-C (a second Ctrl-C exits at once).
    """,
))
