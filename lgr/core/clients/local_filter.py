"""LocalFilter: the envelope filters a client applies itself, matching what the servers apply.

`lgr tail` reads history from the log cache and the live stream from the rlp; each server applies
some filters and not others. This applies the rest, so both halves print the same envelopes:

- ``name_filter``: log cache's rule (lgr.core.namefilter) — the cache applies it to history, this
  to the live stream, which the rlp cannot filter by name;
- ``counter_name``: only counters of that name; ``gauge_names``: only gauges whose metric names
  are exactly that set — the rlp's selector rules, which the cache does not have.

Other kinds pass the counter and gauge rules untouched, as with the rlp's selectors.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from lgr.core import namefilter
from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.regex import Regex


class LocalFilter:
    """Call with a batch; returns the envelopes that pass (gauges trimmed by the name filter)."""

    def __init__(self, name_filter: Regex | None = None, counter_name: str | None = None,
                 gauge_names: Iterable[str] | None = None) -> None:
        self.name_filter = name_filter
        self.counter_name = counter_name or None
        self.gauge_names = set(gauge_names or ())
        self.active = name_filter is not None or self.counter_name is not None or bool(self.gauge_names)

    def __call__(self, batch: Sequence[envelope_pb2.Envelope]) -> list[envelope_pb2.Envelope]:
        if not self.active:
            return list(batch)
        out = []
        for env in batch:
            kind = env.WhichOneof("message")
            if self.counter_name is not None and kind == "counter" and env.counter.name != self.counter_name:
                continue
            if self.gauge_names and kind == "gauge" and set(env.gauge.metrics) != self.gauge_names:
                continue
            if self.name_filter is not None:
                env = namefilter.apply(env, self.name_filter)  # type: ignore[assignment]
                if env is None:
                    continue
            out.append(env)
        return out
