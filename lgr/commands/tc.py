"""`lgr tc`: run the traffic controller, which serves the v1 firehose over websockets."""

from __future__ import annotations

import typer

from lgr.commands._serve import config_command, serve
from lgr.core.apps.tc.config import TcConfig

app = typer.Typer(
    help="Traffic controller: serves the v1 firehose and app streams over websockets.",
    no_args_is_help=True,
)


def _run(config: TcConfig) -> None:
    from lgr.core.apps.tc.app import TrafficController  # imports grpc; keep `lgr --help` fast

    serve(TrafficController(config))


start = config_command(
    TcConfig,
    _run,
    """Start the traffic controller: websockets /firehose/{subscription_id} and /apps/{app_id}/stream, recent logs and container metrics, on TRAFFIC_CONTROLLER_OUTGOING_DROPSONDE_PORT.

    It reads every router in ROUTER_ADDRS over mTLS and sends v1 dropsonde envelopes. Tokens come from LGR_TOKENS_FILE, or from UAA and the Cloud Controller when TRAFFIC_CONTROLLER_UAA_HOST is set. Settings come from upstream's environment variables; each flag overrides its variable.
    """,
)
app.command("start")(start)
