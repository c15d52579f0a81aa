"""Counter totals: the running total of every counter the agent forwards, as upstream keeps them.

Upstream's CounterAggregator (egress/v2) keys a counter by its name, source_id and a hash of its
tags (taken after the agent's own tags are added). A counter that carries only a delta
(total 0, delta non-zero) gets the accumulated total; one that carries a total resets it. The map
is cleared once it holds more than 10000 counters, so totals restart rather than grow without
bound. v1 CounterEvents have their own book and rule (:mod:`.v1_pipeline`).
"""

from __future__ import annotations

import threading

from lgr.core._proto.loggregator.v2 import envelope_pb2

MAX_COUNTERS = 10000


class CounterTotals:
    """Fills in ``counter.total`` per counter identity; safe to call from several threads."""

    def __init__(self, max_counters: int = MAX_COUNTERS) -> None:
        self._totals: dict[tuple[str, str, tuple[tuple[str, str], ...]], int] = {}
        self._max = max_counters
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._totals)

    def apply(self, env: envelope_pb2.Envelope) -> None:
        """Set the total of counter envelope ``env`` from the running total of its identity."""
        counter = env.counter
        key = (counter.name, env.source_id, tuple(sorted(env.tags.items())))
        total, delta = counter.total, counter.delta
        accumulate = total == 0 and delta != 0
        with self._lock:
            totals = self._totals
            if len(totals) > self._max:
                totals.clear()
            if accumulate:
                # Go's uint64 addition wraps; keep the same answer.
                total = (totals.get(key, 0) + delta) & 0xFFFFFFFFFFFFFFFF
            totals[key] = total
        counter.total = total
