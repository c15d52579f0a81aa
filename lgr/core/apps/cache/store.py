"""Store: the log cache's envelopes per source id, ordered by timestamp, kept serialized.

Semantics are upstream's (log-cache-release ``internal/cache/store``):

- each source id holds at most ``max_per_source`` envelopes; putting one more first removes that
  source's oldest (``expired``);
- over ``memory_limit`` bytes the oldest envelopes across all sources are removed (``pruned``;
  upstream's truncation loop) until the store is back under ``prune_to`` of the limit; a source
  left empty disappears, as upstream's does;
- a read returns envelopes with ``start <= timestamp < end``, ascending (or descending), of the
  given types, at most ``limit``; ``name_filter`` keeps metrics by name (lgr.core.namefilter);
- meta reports per source: count, expired (both removals, as upstream counts them), the oldest
  timestamp held and the newest ever put.

Envelopes stay the bytes they arrived as. A source keeps them in chunks of about ``CHUNK``
entries, each an ``array('q')`` of timestamps, a list of bytes and a bytearray of kind codes, so
appending in time order is an append, an out-of-order put is an insertion into one chunk, and a
read is two binary searches and a slice. Equal timestamps keep their arrival order (upstream
nudges them apart by up to 4 µs instead). Memory is accounted as the envelope's length plus
``ENVELOPE_OVERHEAD`` per envelope. Not thread-safe: the cache's event loop owns it.
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from lgr.core import namefilter
from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.regex import Regex

# Kind codes are log cache's EnvelopeType numbers (logcache_v1: ANY=0, LOG=1 ... EVENT=5); an
# envelope without a message is stored as 0 and only returned by reads without a type filter.
KIND_CODES = {"log": 1, "counter": 2, "gauge": 3, "timer": 4, "event": 5}
METRIC_CODES = frozenset((2, 3, 4))  # the kinds a name filter can keep
CHUNK = 1024
ENVELOPE_OVERHEAD = 50  # bytes object header (33) + list slot + timestamp + kind code
DEFAULT_MAX_PER_SOURCE = 100_000
DEFAULT_PRUNE_TO = 0.95


@dataclass(frozen=True)
class SourceMeta:
    """What the store holds for one source id (upstream's MetaInfo)."""

    count: int
    expired: int
    oldest_timestamp: int
    newest_timestamp: int


class _Chunk:
    """Timestamps, envelopes and kind codes in timestamp order; entries before ``start`` are gone."""

    __slots__ = ("ts", "envs", "kinds", "start")

    def __init__(self) -> None:
        self.ts = array("q")
        self.envs: list[bytes | None] = []
        self.kinds = bytearray()
        self.start = 0


class _Source:
    """One source id: its chunks (``lasts`` holds each chunk's newest timestamp) and counts."""

    __slots__ = ("chunks", "lasts", "count", "expired", "newest")

    def __init__(self) -> None:
        self.chunks: list[_Chunk] = []
        self.lasts: list[int] = []
        self.count = 0
        self.expired = 0
        self.newest = 0

    def oldest(self) -> int:
        first = self.chunks[0]
        return first.ts[first.start]

    def insert(self, ts: int, kind: int, data: bytes) -> None:
        chunks, lasts = self.chunks, self.lasts
        if not chunks or ts >= lasts[-1]:
            if not chunks or len(chunks[-1].envs) >= CHUNK:
                chunks.append(_Chunk())
                lasts.append(ts)
            chunk = chunks[-1]
            chunk.ts.append(ts)
            chunk.envs.append(data)
            chunk.kinds.append(kind)
            lasts[-1] = ts
        else:
            i = bisect_right(lasts, ts)  # the first chunk holding a later timestamp
            chunk = chunks[i]
            j = bisect_right(chunk.ts, ts, chunk.start)
            chunk.ts.insert(j, ts)
            chunk.envs.insert(j, data)
            chunk.kinds.insert(j, kind)
            if len(chunk.envs) - chunk.start > 2 * CHUNK:
                self._split(i)
        self.count += 1
        if ts > self.newest:
            self.newest = ts

    def remove_oldest(self) -> int:
        """Remove the oldest envelope; return the bytes it accounted for."""
        chunk = self.chunks[0]
        data = chunk.envs[chunk.start]
        chunk.envs[chunk.start] = None  # free the bytes now, not when the chunk goes
        chunk.start += 1
        if chunk.start == len(chunk.envs):
            del self.chunks[0]
            del self.lasts[0]
        self.count -= 1
        return len(data) + ENVELOPE_OVERHEAD  # type: ignore[arg-type]

    def _split(self, i: int) -> None:
        old = self.chunks[i]
        s, n = old.start, len(old.envs)
        mid = s + (n - s) // 2
        halves = []
        for lo, hi in ((s, mid), (mid, n)):
            part = _Chunk()
            part.ts = old.ts[lo:hi]
            part.envs = old.envs[lo:hi]
            part.kinds = old.kinds[lo:hi]
            halves.append(part)
        self.chunks[i:i + 1] = halves
        self.lasts[i:i + 1] = [halves[0].ts[-1], halves[1].ts[-1]]


class Store:
    """Envelopes per source id; see the module doc. Counters are plain ints, read by the app."""

    def __init__(self, max_per_source: int = DEFAULT_MAX_PER_SOURCE, memory_limit: int = 0,
                 prune_to: float = DEFAULT_PRUNE_TO) -> None:
        if max_per_source < 1:
            raise ValueError("max_per_source must be at least 1")
        self.max_per_source = max_per_source
        self.memory_limit = memory_limit  # bytes; 0: no limit
        self.prune_to = prune_to
        self._sources: dict[str, _Source] = {}
        self.size = 0  # envelopes held
        self.nbytes = 0  # accounted bytes held
        self.ingress = 0
        self.egress = 0
        self.expired = 0  # removed by max_per_source
        self.pruned = 0  # removed by the memory limit

    def __len__(self) -> int:
        return self.size

    def sources(self) -> list[str]:
        """The source ids held, in no particular order."""
        return list(self._sources)

    def put(self, timestamp: int, source_id: str, kind: int, data: bytes) -> None:
        """Add one serialized envelope (``kind`` from :data:`KIND_CODES`, 0 for none)."""
        self.put_many(((timestamp, source_id, kind, data),))

    def put_envelopes(self, envelopes: Iterable[envelope_pb2.Envelope]) -> None:
        """Add parsed envelopes (kept serialized), as the nozzle and Ingress.Send receive them."""
        codes = KIND_CODES
        self.put_many([(env.timestamp, env.source_id, codes.get(env.WhichOneof("message") or "", 0),
                        env.SerializeToString()) for env in envelopes])

    def put_many(self, items: Iterable[tuple[int, str, int, bytes]]) -> None:
        """Add ``(timestamp, source_id, kind, data)`` items, then prune if over the limit."""
        sources, cap = self._sources, self.max_per_source
        added = expired = delta = 0
        for ts, sid, kind, data in items:
            src = sources.get(sid)
            if src is None:
                src = sources[sid] = _Source()
            if src.count >= cap:
                delta -= src.remove_oldest()
                src.expired += 1
                expired += 1
            else:
                added += 1
            src.insert(ts, kind, data)
            delta += len(data) + ENVELOPE_OVERHEAD
        self.ingress += added + expired
        self.size += added
        self.expired += expired
        self.nbytes += delta
        if self.memory_limit and self.nbytes > self.memory_limit:
            self.prune(int(self.memory_limit * self.prune_to))

    def prune(self, target_bytes: int) -> int:
        """Remove the oldest envelopes across sources until at most ``target_bytes`` are held."""
        sources = self._sources
        heap = [(src.oldest(), sid) for sid, src in sources.items()]
        heapq.heapify(heap)
        removed = 0
        while self.nbytes > target_bytes and heap:
            _, sid = heap[0]
            src = sources[sid]
            self.nbytes -= src.remove_oldest()
            src.expired += 1
            removed += 1
            if src.count == 0:
                del sources[sid]
                heapq.heappop(heap)
            else:
                heapq.heapreplace(heap, (src.oldest(), sid))
        self.size -= removed
        self.pruned += removed
        return removed

    def read(self, source_id: str, start: int, end: int, kinds: Collection[int] = (),
             limit: int = 100, descending: bool = False,
             name_filter: Regex | None = None) -> list[bytes]:
        """Up to ``limit`` envelopes of ``source_id`` with ``start <= timestamp < end``."""
        src = self._sources.get(source_id)
        if src is None or limit <= 0 or start >= end:
            return []
        kinds = frozenset(kinds)
        if name_filter is not None:
            kinds = (kinds & METRIC_CODES) if kinds else METRIC_CODES
            if not kinds:
                return []  # only metrics pass a name filter
        scan = self._scan_desc if descending else self._scan_asc
        out = scan(src, start, end, kinds, limit, name_filter)
        self.egress += len(out)
        return out

    def _scan_asc(self, src: _Source, start: int, end: int, kinds: frozenset[int], limit: int,
                  name_filter: Regex | None) -> list[bytes]:
        chunks, out = src.chunks, []
        ci = bisect_left(src.lasts, start)
        first = True
        while ci < len(chunks) and len(out) < limit:
            c = chunks[ci]
            lo = bisect_left(c.ts, start, c.start) if first else c.start
            hi = bisect_left(c.ts, end, lo)
            _take(c, range(lo, hi), kinds, name_filter, out, limit)
            if hi < len(c.envs):
                break
            first = False
            ci += 1
        return out

    def _scan_desc(self, src: _Source, start: int, end: int, kinds: frozenset[int], limit: int,
                   name_filter: Regex | None) -> list[bytes]:
        chunks, out = src.chunks, []
        ci = min(bisect_left(src.lasts, end), len(chunks) - 1)
        while ci >= 0 and len(out) < limit:
            c = chunks[ci]
            hi = bisect_left(c.ts, end, c.start)
            lo = bisect_left(c.ts, start, c.start, hi)
            _take(c, range(hi - 1, lo - 1, -1), kinds, name_filter, out, limit)
            if lo > c.start:
                break
            ci -= 1
        return out

    def meta(self) -> dict[str, SourceMeta]:
        """Count, expired, oldest and newest timestamp of every source id held."""
        return {sid: SourceMeta(src.count, src.expired, src.oldest(), src.newest)
                for sid, src in self._sources.items()}

    def oldest_timestamp(self) -> int | None:
        """The oldest timestamp held across sources (None when empty)."""
        return min((src.oldest() for src in self._sources.values()), default=None)


def _take(c: _Chunk, positions: range, kinds: frozenset[int],
          name_filter: Regex | None, out: list[bytes], limit: int) -> None:
    """Append the envelopes at ``positions`` of ``c`` that pass the filters, up to ``limit``."""
    room = limit - len(out)
    if not kinds and name_filter is None:
        if positions.step > 0:
            out.extend(c.envs[positions.start:min(positions.stop, positions.start + room)])
        else:
            hi, lo = positions.start + 1, positions.stop + 1
            out.extend(c.envs[max(lo, hi - room):hi][::-1])
        return
    envs, codes = c.envs, c.kinds
    for i in positions:
        if kinds and codes[i] not in kinds:
            continue
        data = envs[i]
        if name_filter is not None:
            env = envelope_pb2.Envelope.FromString(data)  # type: ignore[arg-type]
            kept = namefilter.apply(env, name_filter)
            if kept is None:
                continue
            if kept is not env:
                data = kept.SerializeToString()
        out.append(data)  # type: ignore[arg-type]
        if len(out) >= limit:
            return


def kind_code(kind: str | None) -> int:
    """The store's code for an envelope kind name ("" or None: no message)."""
    return KIND_CODES.get(kind or "", 0)
