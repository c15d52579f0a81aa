"""`lgr cache`: run the log cache, which keeps recent envelopes per source and serves them over HTTP."""

from __future__ import annotations

import typer

from lgr.commands._serve import config_command, serve
from lgr.core.apps.cache.config import CacheConfig

app = typer.Typer(
    help="Log cache: recent envelopes per source from the firehose, read over HTTP and PromQL.",
    no_args_is_help=True,
)


def _run(config: CacheConfig) -> None:
    from lgr.core.apps.cache.app import Cache  # imports aiohttp and grpc; keep `lgr --help` fast

    serve(Cache(config))


start = config_command(
    CacheConfig,
    _run,
    """Start the log cache: fills from the RLP at LOGS_PROVIDER_ADDR and serves upstream's HTTP API on ADDR.

    GET /api/v1/read/SOURCE_ID (start_time, end_time, envelope_types, limit, descending, name_filter), /api/v1/meta, /api/v1/info, and PromQL on /api/v1/query and /api/v1/query_range. Each source keeps MAX_PER_SOURCE envelopes; over the memory limit the oldest go first. Requests need `Authorization: bearer TOKEN`: tokens from `lgr token create` (LGR_TOKENS_FILE), or UAA and Cloud Controller as upstream when UAA_ADDR is set. Settings come from upstream's environment variables; each flag overrides its variable.
    """,
)
app.command("start")(start)
