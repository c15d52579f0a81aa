"""Cache metrics: upstream log cache's names for what the store, the nozzle and PromQL did.

The store keeps plain counts (it is on the hot path); :meth:`CacheMetrics.sync` carries them
into the registry and is called after each nozzle batch and before each render. As upstream,
``log_cache_expired`` counts every removal; ``log_cache_pruned`` (lgr) the share the memory
limit forced. Auth refusals are counted by lgr.core.auth in the same registry (``auth_failures``).
"""

from __future__ import annotations

import time

from lgr.core.apps.cache.store import Store
from lgr.core.metrics import Counter, Registry
from lgr.core.salvage import malformed_counter


class CacheMetrics:
    """The cache's counters and gauges, declared once."""

    def __init__(self, registry: Registry) -> None:
        self.ingress = registry.counter("log_cache_ingress", "Total envelopes ingressed.")
        self.egress = registry.counter("log_cache_egress", "Total envelopes retrieved from the store.")
        self.expired = registry.counter(
            "log_cache_expired", "Envelopes removed: the oldest of a source over MAX_PER_SOURCE, "
            "or the oldest overall over the memory limit")
        self.pruned = registry.counter(
            "log_cache_pruned", "Envelopes removed because the store was over its memory limit")
        self.store_size = registry.gauge(
            "log_cache_store_size", "Current number of envelopes in the store.", unit="entries")
        self.store_bytes = registry.gauge(
            "log_cache_store_bytes", "Accounted bytes of the envelopes in the store.", unit="bytes")
        self.memory_limit = registry.gauge(
            "log_cache_memory_limit", "Bytes the store may hold before it prunes (0: no limit).",
            unit="bytes")
        self.cache_period = registry.gauge(
            "log_cache_cache_period", "Milliseconds between the oldest envelope held and now.",
            unit="milliseconds")
        self.sources = registry.gauge("log_cache_sources", "Source ids held.", unit="sources")
        self.nozzle_ingress = registry.counter("nozzle_ingress", "Envelopes read from the reverse log proxy.")
        self.nozzle_errors = registry.counter(
            "nozzle_err", "Times the nozzle's stream from the reverse log proxy broke or failed.")
        self.dropped = registry.counter(
            "dropped", "Envelopes the reverse log proxy reported dropping for the nozzle",
            labels={"direction": "ingress"})
        self.malformed = malformed_counter(registry)
        self.promql_errors = registry.counter(
            "log_cache_promql_timeout", "Total number of errors while executing queries.")
        self.instant_query_time = registry.gauge(
            "log_cache_promql_instant_query_time", "Duration of last instant query in milliseconds.",
            unit="milliseconds")
        self.range_query_time = registry.gauge(
            "log_cache_promql_range_query_time", "Duration of last range query in milliseconds.",
            unit="milliseconds")
        self._synced: dict[str, int] = {}

    def sync(self, store: Store) -> None:
        """Carry the store's counts into the registry."""
        for counter, value in ((self.ingress, store.ingress), (self.egress, store.egress),
                               (self.expired, store.expired + store.pruned),
                               (self.pruned, store.pruned)):
            self._advance(counter, value)
        self.store_size.set(store.size)
        self.store_bytes.set(store.nbytes)
        self.memory_limit.set(store.memory_limit)

    def sync_slow(self, store: Store) -> None:
        """Also the gauges that walk every source (for renders, not per batch)."""
        self.sync(store)
        oldest = store.oldest_timestamp()
        period = 0 if oldest is None else max(0, (time.time_ns() - oldest) // 1_000_000)
        self.cache_period.set(period)
        self.sources.set(len(store.sources()))

    def _advance(self, counter: Counter, value: int) -> None:
        last = self._synced.get(counter.name, 0)
        if value > last:
            counter.inc(value - last)
            self._synced[counter.name] = value
