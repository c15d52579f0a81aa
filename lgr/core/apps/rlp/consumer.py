"""Consumer stream: one consumer's BatchedReceiver on every router, merged into one buffer.

A :class:`~lgr.core.router_pool.RouterStream` reads BatchedReceiver from every router with the
consumer's (validated) request (reopening a stream that breaks while the others carry on); each
batch gets its tags rewritten as the consumer asked (:mod:`.tags`; a batch needing no change keeps
the router's bytes), is split into envelope bytes and goes into the stream's drop-oldest diode. The consumer's handler drains the diode in batches
(:mod:`lgr.core.batching`). A batch the rewrite cannot parse keeps its envelopes that parse;
the others are counted in ``malformed`` (lgr.core.salvage). Batches that need no rewrite pass as
the routers' bytes, which the routers checked at their ingress.

When the consumer opted in (:mod:`lgr.core.drops`), a drop report goes ahead of the envelopes
that follow a loss, at most once a second, and after a quiet spell if one is still owed.
"""

from __future__ import annotations

import asyncio
import logging

from google.protobuf.message import DecodeError

from lgr.core._proto.loggregator.v2 import egress_pb2
from lgr.core.apps.rlp.metrics import RlpMetrics
from lgr.core.apps.rlp.tags import converge, converge_batch
from lgr.core.batching import take_batch
from lgr.core.diode import Diode
from lgr.core.drops import DropTracker, report
from lgr.core.envelope import MalformedEnvelope, split_batch
from lgr.core.router_pool import RouterPool, RouterStream
from lgr.core.salvage import parse_batch

IDLE_CHECK = 0.5  # seconds an idle stream sleeps before checking for closing / owed reports
REPORT_INTERVAL = 1.0  # seconds between drop reports on one stream

log = logging.getLogger("lgr.rlp")


class ConsumerStream:
    """The routers' envelopes for one consumer request, merged into one bounded buffer."""

    def __init__(self, stream_id: int, request: egress_pb2.EgressBatchRequest, pool: RouterPool,
                 metrics: RlpMetrics, buffer_size: int, *, report_source_id: str | None = None,
                 buffer_bytes: int | None = None) -> None:
        self.id = stream_id
        self._request = request.SerializeToString()
        self._preferred = request.use_preferred_tags
        self._pool = pool
        self._metrics = metrics
        self.drops = DropTracker(
            f"consumer stream {stream_id} (shard_id {request.shard_id!r})",
            [metrics.dropped_egress])
        self.diode: Diode[bytes] = Diode(buffer_size, on_drop=self.drops, max_bytes=buffer_bytes)
        self._report_source_id = report_source_id
        self._reported = 0
        self._last_report = float("-inf")
        self._report_bytes: bytes | None = None
        self.closing = False
        self._routers = RouterStream(pool, self._request, self._accept,
                                     metrics.router_connects, metrics.router_disconnects)

    @property
    def dropped(self) -> int:
        """Envelopes this stream has dropped so far."""
        return self.drops.total

    def start(self) -> None:
        """Start reading from every router."""
        self._routers.start()

    def discard(self) -> None:
        """Stop reading from the routers and free the buffer, without waiting (idempotent):
        the consumer has gone, or has been sent everything. What it left behind is counted as
        dropped."""
        self.close()
        left = len(self.diode.take(self.diode.size))
        if left:
            self.drops(left)

    @property
    def connected(self) -> set[str]:
        """The routers this stream is reading from now."""
        return self._routers.connected

    def close(self) -> None:
        """Stop reading; :meth:`next_batch` returns what is buffered, then []."""
        self.closing = True
        self._routers.cancel()

    async def next_batch(self) -> list[bytes]:
        """The next batch (:func:`take_batch`, led by a drop report when one is due); [] once
        closed and empty."""
        diode = self.diode
        while True:
            items = take_batch(diode)
            if items:
                due = self._report(quiet=False)
                return [due, *items] if due else items
            due = self._report(quiet=True)
            if due:
                return [due]
            if self.closing:
                return []
            await diode.wait(IDLE_CHECK)

    def has_reports(self, batch: list[bytes]) -> int:
        """How many of ``batch`` (from :meth:`next_batch`) are drop reports: 0 or 1."""
        return 1 if batch and batch[0] is self._report_bytes else 0

    def _report(self, quiet: bool) -> bytes | None:
        if self._report_source_id is None or self.drops.total == self._reported:
            return None
        now = asyncio.get_running_loop().time()
        if now - self._last_report < (IDLE_CHECK if quiet else REPORT_INTERVAL):
            return None
        total = self.drops.total
        env = report(self._report_source_id, total - self._reported, total, self._preferred)
        self._reported, self._last_report = total, now
        self._report_bytes = env.SerializeToString()
        return self._report_bytes

    def _accept(self, batch: bytes, addr: str) -> None:
        try:
            envs = split_batch(converge_batch(batch, self._preferred))
        except (DecodeError, MalformedEnvelope):
            # Keep the envelopes that parse (lgr.core.salvage), count the others.
            good, malformed = parse_batch(batch)
            self._metrics.malformed.inc(malformed)
            log.warning("stream %d: skipped %d envelopes from router %s that do not parse",
                        self.id, malformed, addr)
            for env in good:
                converge(env, self._preferred)
            envs = [env.SerializeToString() for env in good]
        if envs:
            self._metrics.ingress.inc(len(envs))
            self.diode.put_many(envs)
