"""`lgr meta`: the sources a log cache holds, as a table like `cf log-meta` prints.

Columns: Source, Source Type (``application`` for a GUID, else ``platform``: without Cloud
Controller there are no app names to look up), Count, Expired, Cache Duration (newest minus
oldest, whole seconds, at least 1s, as Go prints a duration) and Rate/minute: the envelopes held
per minute of that duration, or with ``--noise`` the envelopes that arrived during a measured
interval (two meta reads ``--interval`` apart, as cf log-meta --noise does over five minutes).
Rows sort by ``--sort-by`` ascending as upstream's; ``--reverse`` puts the largest first.
"""

from __future__ import annotations

import asyncio
import enum
import json
import re
import sys
import time
from typing import Annotated

import typer

from lgr.commands import _client
from lgr.console import err_console, escape

GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
HEADERS = ("Source", "Source Type", "Count", "Expired", "Cache Duration", "Rate/minute")


class SortBy(str, enum.Enum):
    """Columns to sort by (cf log-meta's names)."""

    source_id = "source-id"
    source = "source"
    source_type = "source-type"
    count = "count"
    expired = "expired"
    cache_duration = "cache-duration"
    rate = "rate"


class SourceType(str, enum.Enum):
    """Which sources to list."""

    all = "all"
    application = "application"
    platform = "platform"


def command(
    sort_by: Annotated[SortBy, typer.Option("--sort-by", help="Column to sort by.")] = SortBy.source,
    reverse: Annotated[bool, typer.Option("--reverse", "-r", help="Largest first.")] = False,
    source_type: Annotated[SourceType, typer.Option(
        "--source-type", help="Only application sources (GUIDs) or platform sources.")] = SourceType.all,
    noise: Annotated[bool, typer.Option(
        "--noise", help="Measure each source's rate over --interval instead of averaging what is held.",
    )] = False,
    interval: Annotated[float, typer.Option(
        "--interval", min=0.1, metavar="SECONDS", help="How long --noise measures.")] = 5.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as a JSON list.")] = False,
    cache_addr: _client.CacheAddr = None,
    token: _client.Token = None,
    ca_file: _client.CaFile = None,
) -> None:
    """Show the sources the log cache holds: counts, expired, cache duration and rates.

    Examples:

      lgr meta --sort-by rate --reverse

      lgr meta --noise --interval 10 --json
    """
    from lgr.core.clients.defaults import CacheClientConfig

    config = _client.load(CacheClientConfig, cache_addr=cache_addr, token=token, ca_file=ca_file)
    rows = asyncio.run(_rows(config, interval if noise else None))
    rows = [r for r in rows if source_type is SourceType.all or r["source_type"] == source_type.value]
    key = {SortBy.source_id: "source_id", SortBy.source: "source_id", SortBy.source_type: "source_type",
           SortBy.count: "count", SortBy.expired: "expired", SortBy.cache_duration: "cache_duration",
           SortBy.rate: "rate_per_minute"}[sort_by]
    rows.sort(key=lambda r: (r[key], r["source_id"]), reverse=reverse)
    if as_json:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    if not rows:
        err_console.print(f"[dim]the log cache at {escape(config.cache_url)} holds no sources "
                          "this token may read[/]")
    table = [HEADERS] + [(r["source_id"], r["source_type"], str(r["count"]), str(r["expired"]),
                          go_duration(r["cache_duration"]), _rate(r["rate_per_minute"])) for r in rows]
    sys.stdout.write(tabulate(table))


async def _rows(config, interval: float | None) -> list[dict]:  # noqa: ANN001
    from lgr.core.clients.logcache import LogCacheClient

    async with LogCacheClient.from_config(config) as cache:
        first = await cache.meta()
        if interval is None:
            return [_row(sid, m, None) for sid, m in first.items()]
        started = time.monotonic()
        await asyncio.sleep(interval)
        second = await cache.meta()
        elapsed = time.monotonic() - started
    rows = []
    for sid, m in second.items():
        before = first.get(sid)
        arrived = m.count + m.expired - (before.count + before.expired if before else 0)
        rows.append(_row(sid, m, arrived * 60 / elapsed))
    return rows


def _row(source_id: str, m, measured: float | None) -> dict:  # noqa: ANN001
    duration = max(1, (m.newest_timestamp - m.oldest_timestamp) // 1_000_000_000)
    rate = measured if measured is not None else m.count * 60 / duration
    return {"source_id": source_id, "source_type": "application" if GUID.fullmatch(source_id) else "platform",
            "count": m.count, "expired": m.expired, "oldest_timestamp": m.oldest_timestamp,
            "newest_timestamp": m.newest_timestamp, "cache_duration": duration,
            "rate_per_minute": round(rate, 3)}


def _rate(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.2f}"


def go_duration(seconds: int) -> str:
    """Whole seconds as Go's ``time.Duration.String``: ``5s``, ``1m30s``, ``2h0m5s``."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def tabulate(rows: list[tuple[str, ...]]) -> str:
    """Rows as Go's tabwriter (padding 2, spaces) aligns them; the last column is not padded."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = ["".join(cell.ljust(w + 2) for cell, w in zip(r, widths)) + r[-1] for r in rows]
    return "\n".join(lines) + "\n"


__all__ = ["command", "go_duration", "tabulate"]
