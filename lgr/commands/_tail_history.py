"""`lgr tail`'s history: what it reads from the log cache before (or instead of) the live stream."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from lgr.commands import _client
from lgr.commands._tail_output import Printer
from lgr.core.errors import LgrError

if TYPE_CHECKING:
    from lgr.core.clients.defaults import CacheClientConfig
    from lgr.core.clients.follow import HistoryRequest
    from lgr.core.clients.local_filter import LocalFilter

RECENT_LINES = 1000  # what `cf logs --recent` asks the log cache for
ALL_SOURCES_TIMEOUT = 5.0  # seconds the history of every source may take before the live stream


def cache_config(cache_addr: str | None, token: str | None, ca_file: Path | None) -> CacheClientConfig:
    """The log cache client settings from the flags, env and a running `lgr up`."""
    from lgr.core.clients.defaults import CacheClientConfig

    return _client.load(CacheClientConfig, cache_addr=cache_addr, token=token, ca_file=ca_file)


def history_request(sources: list[str] | None, lines: int | None, start_time: int | None,
                    end_time: int | None, kinds: list[str], name_filter: str | None,
                    counter_name: str | None) -> HistoryRequest:
    """The cache read for `lgr tail`'s flags (-n default 10); ``sources=None``: every source,
    bounded by ALL_SOURCES_TIMEOUT so a slow cache holds the live stream back only briefly."""
    from lgr.core.clients.follow import HistoryRequest

    if counter_name and not name_filter:
        name_filter = f"^{re.escape(counter_name)}$"  # let the cache pick them, so -n counts them
    return HistoryRequest(sources, 10 if lines is None else lines, start_time or 0, end_time,
                          [k.upper() for k in kinds], name_filter,
                          timeout=ALL_SOURCES_TIMEOUT if sources is None else None)


def recent_request(sources: list[str]) -> HistoryRequest:
    """`--recent`: the newest 1000 logs of the sources, as `cf logs --recent` reads them."""
    from lgr.core.clients.follow import HistoryRequest

    return HistoryRequest(sources, RECENT_LINES, 0, None, ["LOG"], None)


async def print_history(config: CacheClientConfig, request: HistoryRequest, printer: Printer,
                        local: LocalFilter, count: int | None, timeout: float | None,
                        status: Callable[[str], None] | None) -> None:
    """Read the history and print it; ``status`` (when given) hears that there was none."""
    from lgr.core.clients.follow import read_history
    from lgr.core.clients.logcache import LogCacheClient

    async with asyncio.timeout(timeout), LogCacheClient.from_config(config) as cache:
        envs = await read_history(cache, request)
    printer.print_batch(local(envs), count)
    if not envs and status is not None:
        status(f"the log cache at {config.cache_url} holds nothing for {', '.join(request.sources)}"
               f"{_in_range(request)}; add -f to wait for new envelopes")


def _in_range(request: HistoryRequest) -> str:
    return " in that range" if request.start_time or request.end_time is not None else ""


async def followed(config: CacheClientConfig, live: AsyncIterator[list], request: HistoryRequest,
                   printer: Printer, status: Callable[[str], None], where: str) -> AsyncIterator[list]:
    """The history as one batch, then the live batches without repeats (lgr.core.clients.follow);
    once the history is printed, ``printer.history`` holds how many lines it gave. When sources
    were asked for and the history had none of them, ``status`` hears what the stream waits for
    (``where``: the live stream's server)."""
    from lgr.core.clients.follow import follow
    from lgr.core.clients.logcache import LogCacheClient

    def warn(exc: LgrError) -> None:
        status(f"no history: {exc.message}; following the live stream only")

    async with LogCacheClient.from_config(config) as cache:
        async with contextlib.aclosing(follow(cache, live, request, warn)) as batches:
            first = True
            async for batch in batches:
                yield batch
                if first:  # the history: printed by now
                    printer.history, first = printer.shown, False
                    if request.sources and not batch:
                        status(f"the log cache at {config.cache_url} holds nothing for "
                               f"{', '.join(request.sources)}{_in_range(request)}; waiting for new "
                               f"envelopes from {where} (Ctrl-C to stop)")
