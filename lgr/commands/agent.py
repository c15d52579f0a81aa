"""`lgr agent`: run the agent, which takes envelopes from apps and forwards them to routers."""

from __future__ import annotations

import typer

from lgr.commands._serve import config_command, serve
from lgr.core.apps.agent.config import AgentConfig

app = typer.Typer(
    help="Agent: takes envelopes from apps (v2 gRPC, v1 UDP) and forwards them to routers.",
    no_args_is_help=True,
)


def _run(config: AgentConfig) -> None:
    from lgr.core.apps.agent.app import Agent  # imports grpc; keep `lgr --help` fast

    serve(Agent(config))


start = config_command(
    AgentConfig,
    _run,
    """Start the agent: v2 gRPC ingress (mTLS) on AGENT_PORT and v1 UDP on AGENT_INCOMING_UDP_PORT.

    Envelopes are tagged (source_id from origin, AGENT_TAGS, counter totals) and forwarded in batches to every router behind ROUTER_ADDR. Settings come from upstream's environment variables; each flag overrides its variable.
    """,
)
app.command("start")(start)
