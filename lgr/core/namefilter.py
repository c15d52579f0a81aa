"""Name filter: log cache's ``name_filter`` rule, which keeps metrics whose names match a regex.

Upstream's store (log-cache-release ``store.filterByName``) applies it before the type filter:

- a counter or a timer is kept when the regex matches its name;
- a gauge is kept when the regex matches at least one of its metric names, and only the matching
  metrics are kept (the envelope is trimmed);
- logs, events and envelopes without a message never match.

The regex is searched, not anchored (Go's ``MatchString``), and compiled by RE2 as Go's is
(lgr.core.regex), so no pattern makes a read slow. The log cache uses this on reads and
`lgr tail --name-filter` on the live stream, so both give the same envelopes.
"""

from __future__ import annotations

from lgr.core import regex
from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.regex import Regex, RegexError


def compile_filter(pattern: str) -> Regex:
    """The compiled ``pattern``; RegexError when it is not a valid regular expression."""
    return regex.compile(pattern)


def apply(env: envelope_pb2.Envelope, pattern: Regex) -> envelope_pb2.Envelope | None:
    """``env`` when the filter keeps it whole, a trimmed copy of a gauge, or None."""
    kind = env.WhichOneof("message")
    if kind == "counter":
        return env if pattern.search(env.counter.name) else None
    if kind == "timer":
        return env if pattern.search(env.timer.name) else None
    if kind != "gauge":
        return None
    metrics = env.gauge.metrics
    keep = [name for name in metrics if pattern.search(name)]
    if not keep:
        return None
    if len(keep) == len(metrics):
        return env
    trimmed = envelope_pb2.Envelope()
    trimmed.CopyFrom(env)
    for name in list(trimmed.gauge.metrics):
        if name not in keep:
            del trimmed.gauge.metrics[name]
    return trimmed


__all__ = ["RegexError", "apply", "compile_filter"]
