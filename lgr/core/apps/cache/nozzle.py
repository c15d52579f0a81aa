"""Nozzle: fills the store from the reverse log proxy's firehose, as upstream log cache's nozzle does.

One BatchedReceiver stream over mTLS (lgr.core.clients.egress.EgressClient) asks for every
source and the SELECTORS types, with SHARD_ID as its shard id: caches sharing an id split the
firehose, each envelope going to one of them. Preferred tags are asked for, as upstream's
nozzle does. Each batch goes straight into the store: putting is far faster than the stream,
so nothing queues here, and if the cache falls behind the rlp drops for it and says so (drop
reports, counted as ``dropped{direction="ingress"}``). Envelopes from the rlp that do not parse
are skipped and counted in ``malformed``; the rest of their batch is stored (lgr.core.salvage).

The stream reconnects with backoff for as long as the cache runs. An rlp that cannot be reached
for CONNECT_TIMEOUT, and failures that retrying might not fix (a refused certificate, a server
that is not an rlp), are logged, counted in ``nozzle_err`` and retried more slowly rather than
ending the cache: its readers keep what it already holds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import grpc

from lgr.core.apps.cache.metrics import CacheMetrics
from lgr.core.apps.cache.store import Store
from lgr.core.clients.egress import (
    EgressClient,
    EnvelopesDropped,
    StreamEvent,
    StreamInterrupted,
    StreamResumed,
    egress_request,
)
from lgr.core.errors import LgrError
from lgr.core.log_limit import RateLimitedLog
from lgr.core.salvage import EnvelopesMalformed

log = logging.getLogger("lgr.cache.nozzle")
_limited = RateLimitedLog(log)  # a retry loop repeats its failure every few seconds at most

FATAL_RETRY = (1.0, 30.0)  # seconds: backoff after errors EgressClient gives up on
CONNECT_TIMEOUT = 5.0  # seconds without a first connection before the failure is logged


class Nozzle:
    """Reads the rlp at ``address`` into ``store`` until cancelled; see the module doc."""

    def __init__(self, address: str, credentials: grpc.ChannelCredentials, server_name: str,
                 store: Store, metrics: CacheMetrics, shard_id: str = "log-cache",
                 selectors: Sequence[str] = ()) -> None:
        self.address = address
        self.store = store
        self.metrics = metrics
        self.request = egress_request(kinds=selectors, shard_id=shard_id, use_preferred_tags=True)
        self.client = EgressClient(address, credentials, self.request, server_name=server_name,
                                   on_event=self._on_event, connect_timeout=CONNECT_TIMEOUT)
        self.received = 0

    async def run(self) -> None:
        """Fill the store until cancelled."""
        delay = FATAL_RETRY[0]
        while True:
            try:
                async for batch in self.client.batches():
                    self._put(batch)
                    delay = FATAL_RETRY[0]
            except LgrError as exc:
                self.metrics.nozzle_errors.inc()
                _limited.warning("failed", "nozzle: %s; retrying in %.0fs", exc.message, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, FATAL_RETRY[1])

    def _put(self, batch: Sequence) -> None:
        self.store.put_envelopes(batch)
        self.received += len(batch)
        self.metrics.nozzle_ingress.inc(len(batch))
        self.metrics.sync(self.store)

    def _on_event(self, event: StreamEvent) -> None:
        if isinstance(event, EnvelopesMalformed):
            self.metrics.malformed.inc(event.delta)
            _limited.warning("malformed", "nozzle: skipped %d envelopes from the rlp that do not "
                             "parse (%d in all)", event.delta, event.total)
        elif isinstance(event, EnvelopesDropped):
            self.metrics.dropped.inc(event.delta)
            log.warning("nozzle: the rlp dropped %d envelopes for the cache (%d in all)",
                        event.delta, event.total)
        elif isinstance(event, StreamInterrupted):
            self.metrics.nozzle_errors.inc()
            _limited.warning("broke", "nozzle: stream from the rlp at %s broke (%s: %s); retrying in %.2fs",
                             self.address, event.code, event.details, event.retry_in)
        elif isinstance(event, StreamResumed):
            log.info("nozzle: reconnected to the rlp at %s after %.1fs", self.address, event.outage)
