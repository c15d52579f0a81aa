"""Tagging: what the agent does to every v2 envelope before forwarding it, by upstream's rules.

In upstream's order (ingress/v2 receiver, egress/v2 tagger and counter aggregator):

1. an empty ``source_id`` becomes the ``origin`` tag, else the ``origin`` deprecated tag
   (counted in ``origin_mappings``);
2. with LOGS_DISABLED, log envelopes are dropped here;
3. ``deprecated_tags`` are copied into ``tags`` (integers and decimals as Go formats them),
   overwriting tags of the same name; the deprecated map itself stays;
4. AGENT_TAGS are added where the envelope lacks the key;
5. counters get their running total (see :mod:`counter_totals`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from decimal import Decimal

from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.apps.agent.counter_totals import CounterTotals
from lgr.core.metrics import Counter


class Tagger:
    """Prepares envelopes for the routers; ``prepare`` returns None for a dropped envelope."""

    def __init__(
        self,
        default_tags: Mapping[str, str],
        origin_mappings: Counter,
        totals: CounterTotals | None = None,
        logs_disabled: bool = False,
    ) -> None:
        self._defaults = tuple(default_tags.items())
        self._origin_mappings = origin_mappings
        self.totals = totals if totals is not None else CounterTotals()
        self._logs_disabled = logs_disabled

    def prepare(self, env: envelope_pb2.Envelope) -> envelope_pb2.Envelope | None:
        """Apply every rule to ``env`` in place; None when the envelope is to be dropped."""
        if not env.source_id:
            self.map_origin(env)
        kind = env.WhichOneof("message")
        if kind == "log" and self._logs_disabled:
            return None
        if env.deprecated_tags:
            _move_deprecated_tags(env)
        if self._defaults:
            tags = env.tags
            for key, value in self._defaults:
                if key not in tags:
                    tags[key] = value
        if kind == "counter":
            self.totals.apply(env)
        return env

    def map_origin(self, env: envelope_pb2.Envelope) -> None:
        """Use the ``origin`` tag (or deprecated tag) as ``source_id``, as upstream's receiver."""
        tags = env.tags
        if "origin" in tags:
            env.source_id = tags["origin"]
            self._origin_mappings.inc()
        elif "origin" in env.deprecated_tags:
            env.source_id = env.deprecated_tags["origin"].text
            self._origin_mappings.inc()


def _move_deprecated_tags(env: envelope_pb2.Envelope) -> None:
    tags = env.tags
    for key, value in env.deprecated_tags.items():
        which = value.WhichOneof("data")
        if which == "text":
            tags[key] = value.text
        elif which == "integer":
            tags[key] = str(value.integer)
        elif which == "decimal":
            tags[key] = format_float(value.decimal)
        else:
            tags[key] = ""


def format_float(value: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'f', -1, 64)``: shortest digits, never an exponent."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def serialize_all(
    tagger: Tagger, envelopes: Iterable[envelope_pb2.Envelope]
) -> list[bytes]:
    """Prepare each envelope with ``tagger`` and return the serialized survivors, in order."""
    prepare = tagger.prepare
    out = []
    for env in envelopes:
        if prepare(env) is not None:
            out.append(env.SerializeToString())
    return out
