"""Follow: recent history of some sources from the log cache, then their live stream, without a gap.

:func:`read_history` asks the cache for the newest ``lines`` envelopes of each source and keeps
the newest ``lines`` of them all, oldest first (what `cf tail -n` prints). Without sources
(``sources=None``) it reads every source the cache's meta lists, at most :data:`MAX_SOURCES` of
them (those written to most recently), :data:`MAX_READS` reads at a time.

:func:`follow` yields that history as one batch, then the rlp's live batches. It opens the live
stream *before* reading the history, so nothing that arrives meanwhile is missed, and skips live
envelopes that the history already held (same bytes, at or before its newest timestamp). The live
stream is read one batch ahead at most, so a slow reader still slows its own gRPC stream and the
rlp drops for it (and reports the drops) rather than this process buffering without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.aio import cancel_and_wait
from lgr.core.clients.logcache import LogCacheClient
from lgr.core.errors import LgrError, UnavailableError

MAX_SOURCES = 100  # an all-sources history reads at most this many sources
MAX_READS = 20  # reads in flight at once
_END = object()


@dataclass(frozen=True)
class HistoryRequest:
    """What history to read: ``lines`` newest of ``sources`` in ``[start_time, end_time)``;
    ``sources=None`` reads every source the cache holds. ``timeout`` (seconds) bounds the whole
    read, meta included; None leaves only each request's own timeout."""

    sources: Sequence[str] | None
    lines: int = 10
    start_time: int = 0
    end_time: int | None = None
    envelope_types: Sequence[str] = field(default_factory=tuple)  # log cache names; () = any
    name_filter: str | None = None
    timeout: float | None = None


async def read_history(cache: LogCacheClient, request: HistoryRequest) -> list[envelope_pb2.Envelope]:
    """The newest ``request.lines`` envelopes across the sources, oldest first.

    Raises UnavailableError when ``request.timeout`` expires first."""
    if request.lines <= 0 or (request.sources is not None and not request.sources):
        return []
    try:
        async with asyncio.timeout(request.timeout):
            return await _read(cache, request)
    except TimeoutError:
        raise UnavailableError(f"the log cache at {cache.url} did not answer within {request.timeout:g}s",
                               hint="is it overloaded? set --cache-addr or LGR_CACHE_ADDR") from None


async def _read(cache: LogCacheClient, request: HistoryRequest) -> list[envelope_pb2.Envelope]:
    sources = request.sources if request.sources is not None else await newest_sources(cache, request)
    reads = asyncio.Semaphore(MAX_READS)

    async def tail(sid: str) -> list[envelope_pb2.Envelope]:
        async with reads:
            return await cache.tail(sid, request.lines, request.start_time, request.end_time,
                                    request.envelope_types, request.name_filter)

    per_source = await asyncio.gather(*(tail(sid) for sid in sources))
    merged = [env for envs in per_source for env in envs]
    merged.sort(key=lambda env: env.timestamp)  # stable: each source's own order is kept
    return merged[-request.lines:]


async def newest_sources(cache: LogCacheClient, request: HistoryRequest) -> list[str]:
    """The sources (from the cache's meta) whose envelopes can be among the newest
    ``request.lines`` of them all: those written to most recently, at most MAX_SOURCES.

    Without type, name or end filters every one of the top ``lines`` sources gives at least its
    newest envelope, so no source below them can hold one of the newest ``lines``: only those are
    read. With filters a source's newest may not count, so up to MAX_SOURCES are read."""
    end = request.end_time
    held = sorted(((m.newest_timestamp, sid) for sid, m in (await cache.meta()).items()
                   if m.count > 0 and m.newest_timestamp >= request.start_time
                   and (end is None or m.oldest_timestamp < end)), reverse=True)
    unfiltered = not request.envelope_types and not request.name_filter and end is None
    limit = min(request.lines, MAX_SOURCES) if unfiltered else MAX_SOURCES
    return [sid for _, sid in held[:limit]]


async def follow(
    cache: LogCacheClient,
    live: AsyncIterator[list[envelope_pb2.Envelope]],
    request: HistoryRequest,
    on_history_error: Callable[[LgrError], None] | None = None,
) -> AsyncIterator[list[envelope_pb2.Envelope]]:
    """Yield the history (one batch, possibly empty), then every live batch without repeats.

    ``live`` is the rlp stream (e.g. ``EgressClient.batches()``); its errors end the iteration.
    When the cache fails, ``on_history_error`` is told and the live stream goes on (as `cf tail
    -f` does); without it, the error is raised.
    """
    batches: asyncio.Queue = asyncio.Queue(maxsize=1)

    async def pump() -> None:
        async with contextlib.aclosing(live) as stream:  # type: ignore[type-var]
            async for batch in stream:
                await batches.put(batch)
        await batches.put(_END)

    pumping = asyncio.ensure_future(pump())
    try:
        try:
            history = await read_history(cache, request)
        except LgrError as exc:
            if on_history_error is None:
                raise
            on_history_error(exc)
            history = []
        yield history
        newest = history[-1].timestamp if history else None
        seen = {env.SerializeToString(deterministic=True) for env in history}
        while True:
            if pumping.done() and batches.empty():
                pumping.result()  # the live stream failed: raise its error
                return
            getter = asyncio.ensure_future(batches.get())
            await asyncio.wait({getter, pumping}, return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():
                getter.cancel()
                continue
            batch = getter.result()
            if batch is _END:
                return
            if newest is not None:
                batch = [env for env in batch if env.timestamp > newest
                         or env.SerializeToString(deterministic=True) not in seen]
            if batch:
                yield batch
    finally:
        with contextlib.suppress(Exception):  # the live stream's error was raised above, or is moot
            await cancel_and_wait(pumping)
