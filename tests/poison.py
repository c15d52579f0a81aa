"""Poison envelopes: serialized envelopes with invalid UTF-8 in a string field, built by hand.

Python's protobuf refuses to serialize a str that is not UTF-8, so each is a valid envelope with
the field set to :data:`MARKER`, whose bytes are then replaced by as many bytes that are not
UTF-8. :data:`POISON_FIELDS` names, per string field, how the refusal names it.
"""

from __future__ import annotations

from collections.abc import Callable

from lgr.core import envelope as E
from lgr.core._proto.loggregator.v2 import envelope_pb2

MARKER = "MARKER"
BAD = b"\xff\xfeRKER"  # as long as MARKER, and not UTF-8


def _deprecated(key: str, text: str) -> envelope_pb2.Envelope:
    env = E.log("x", source_id="app")
    env.deprecated_tags[key].text = text
    return env


# field as the refusal names it -> envelope with MARKER in that field
POISON_FIELDS: dict[str, Callable[[], envelope_pb2.Envelope]] = {
    "source_id": lambda: E.log("x", source_id=MARKER),
    "instance_id": lambda: E.log("x", source_id="app", instance_id=MARKER),
    "tags key": lambda: E.log("x", source_id="app", tags={MARKER: "v"}),
    "tags['k'] value": lambda: E.log("x", source_id="app", tags={"k": MARKER}),
    "deprecated_tags key": lambda: _deprecated(MARKER, "v"),
    "deprecated_tags['k'] text": lambda: _deprecated("k", MARKER),
    "counter name": lambda: E.counter(MARKER, source_id="app"),
    "gauge metrics key": lambda: E.gauge({MARKER: 1.0}, source_id="app"),
    "gauge metrics['cpu'] unit": lambda: E.gauge({"cpu": (1.0, MARKER)}, source_id="app"),
    "timer name": lambda: E.timer(MARKER, 1, 2, source_id="app"),
    "event title": lambda: E.event(MARKER, "body", source_id="app"),
    "event body": lambda: E.event("title", MARKER, source_id="app"),
}


def poisoned(env: envelope_pb2.Envelope) -> bytes:
    """``env`` serialized, with :data:`MARKER` (exactly once in it) replaced by :data:`BAD`."""
    data = env.SerializeToString()
    assert data.count(MARKER.encode()) == 1
    return data.replace(MARKER.encode(), BAD)


def poison_tag_envelope(source_id: str = "poison") -> bytes:
    """The issue's poison: a log whose tag "k" is b"\\xff\\xfe"."""
    data = E.log("poison", source_id=source_id, tags={"k": "\x01\x02"}).SerializeToString()
    return data.replace(b"\x01\x02", b"\xff\xfe")
