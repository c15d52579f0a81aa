"""Salvage: the envelopes of a batch from the wire that parse, and a count of those that do not.

Ingress refuses bad envelopes (lgr.core.envelope), but a consumer cannot know what every server
upstream of it let through, so every consumer (the log cache's nozzle, ``lgr tail``, the gateway,
the traffic controller, the rlp, the dashboard) reads the batches it receives through this
module, and one bad envelope costs that envelope only. The batch is parsed whole (one upb parse,
the common case); when that fails it is cut into its envelopes (``envelope.split_batch``) and
each is parsed on its own: those that parse are kept, in order, the others counted. A batch whose
own framing is broken cannot be cut: it counts as one. Nothing here raises on bad bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from google.protobuf.message import DecodeError

from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.envelope import MalformedEnvelope, peek, peek_batch, split_batch
from lgr.core.metrics import Counter, Registry

MALFORMED_HELP = ("Envelopes dropped because they do not parse as loggregator v2 envelopes "
                  "(invalid UTF-8 in a string field, corrupt wire format)")

_parse_batch = envelope_pb2.EnvelopeBatch.FromString
_parse_envelope = envelope_pb2.Envelope.FromString


def malformed_counter(registry: Registry, labels: Mapping[str, str] | None = None) -> Counter:
    """Declare a component's ``malformed`` counter, with the help text every component shares."""
    return registry.counter("malformed", MALFORMED_HELP, labels)


class Salvaged(NamedTuple):
    """The envelopes of a batch that parse (``batch``, as on an EnvelopeBatch) and how many of
    its envelopes did not (``malformed``)."""

    batch: list[envelope_pb2.Envelope]
    malformed: int


@dataclass(frozen=True)
class EnvelopesMalformed:
    """A stream client skipped ``delta`` envelopes that do not parse (``total`` since it began)."""

    delta: int
    total: int


def parse_batch(data: bytes) -> Salvaged:
    """Every envelope of the EnvelopeBatch bytes ``data`` that parses, and the count of the rest."""
    try:
        return Salvaged(list(_parse_batch(data).batch), 0)
    except DecodeError:
        pass
    try:
        pieces = split_batch(data)
    except MalformedEnvelope:
        return Salvaged([], 1)
    good = []
    for piece in pieces:
        try:
            good.append(_parse_envelope(piece))
        except DecodeError:
            continue
    return Salvaged(good, len(pieces) - len(good))


def peek_batch_salvaged(data: bytes) -> tuple[list[tuple[bytes, str, str]], int]:
    """``envelope.peek_batch`` of what parses in ``data``, and the count of the rest."""
    try:
        return peek_batch(data), 0
    except MalformedEnvelope:
        pass
    try:
        pieces = split_batch(data)
    except MalformedEnvelope:
        return [], 1
    items = []
    for piece in pieces:
        try:
            items.append((piece, *peek(piece)))
        except MalformedEnvelope:
            continue
    return items, len(pieces) - len(items)


def envelope_count(data: bytes) -> int:
    """How many envelopes a batch refused whole holds (1 when its framing is broken)."""
    try:
        return max(1, len(split_batch(data)))
    except MalformedEnvelope:
        return 1


def describe_malformed(event: EnvelopesMalformed, where: str) -> str:
    """A one-line status for a CLI: envelopes from ``where`` were skipped."""
    return (f"skipped {event.delta} envelopes from {where} that do not parse ({event.total} in "
            "all): a server upstream let invalid envelopes through")
