"""`lgr gateway`: run the RLP gateway, which serves the reverse log proxy over HTTP."""

from __future__ import annotations

import typer

from lgr.commands._serve import config_command, serve
from lgr.core.apps.gateway.config import GatewayConfig

app = typer.Typer(
    help="RLP gateway: serves the reverse log proxy as HTTP server-sent events.",
    no_args_is_help=True,
)


def _run(config: GatewayConfig) -> None:
    from lgr.core.apps.gateway.app import Gateway  # imports grpc; keep `lgr --help` fast

    serve(Gateway(config))


start = config_command(
    GatewayConfig,
    _run,
    """Start the RLP gateway: HTTPS GET /v2/read on GATEWAY_ADDR, streaming from the RLP at LOGS_PROVIDER_ADDR.

    Each batch is a server-sent event `data: <EnvelopeBatch JSON>`, with heartbeats when idle and `event: closing` at STREAM_TIMEOUT. Requests need `Authorization: bearer TOKEN`: tokens from `lgr token create` (LGR_TOKENS_FILE), or UAA and Cloud Controller as upstream when LOG_ADMIN_ADDR is set. Open streams are capped in all (LGR_GATEWAY_MAX_STREAMS) and per token (LGR_GATEWAY_MAX_STREAMS_PER_TOKEN), so the gateway cannot take every RLP slot; past a cap a request gets 429, and 503 when the RLP has no free slot. Settings come from upstream's environment variables; each flag overrides its variable.
    """,
)
app.command("start")(start)
