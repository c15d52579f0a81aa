"""Envelope: builders for the five v2 kinds, and wire-level helpers that read serialized bytes.

Envelopes travel through lgr as serialized bytes wherever no field is needed (DESIGN.md,
performance model). :func:`split_batch`, :func:`join_batch`, :func:`peek` and :func:`peek_batch`
work on those bytes directly and never hand out Envelope objects.

What they check (issue 10: one bad envelope must not get past ingress):

- :func:`peek` and :func:`peek_batch` accept exactly what a full upb parse of an Envelope /
  EnvelopeBatch accepts, which is what upstream's Go protobuf accepts at unmarshal: valid wire
  format all the way down, and valid UTF-8 in every proto3 ``string`` field (source_id,
  instance_id, tag and deprecated tag keys and text values, counter and timer names, gauge
  metric names and units, event title and body; a log's payload is ``bytes`` and is not checked).
  Anything else raises :class:`MalformedEnvelope` naming the envelope and field
  (lgr.core.envelope_problems). A batch with one bad envelope is refused whole, as upstream's
  gRPC unmarshal refuses the whole message.
- :func:`split_batch` checks only the batch's own wire structure: it is for bytes already checked
  (or, in lgr.core.salvage, to check each envelope on its own).

Measured with ``bench/bench_envelope.py`` (protobuf 7.36 upb, one core; batches of 100 mixed
envelopes with 7 tags each, serialized in Go field order)::

    split_batch  ~20M env/s    upb parse + re-serialize each envelope ~1.0M
    join_batch   ~16M env/s    EnvelopeBatch built from bytes + serialize ~0.9M
    peek_batch   ~1.2M env/s   = one upb parse of the batch (~2.3M, the check itself) + reading
                               source_id and kind of each envelope; before the full check it
                               read only those through a "route key" view at ~2.2M env/s

So the router keeps bytes end to end: peek_batch to check and route, join_batch for each
subscriber.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.message import DecodeError, Message

from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.envelope_problems import upb_reason, batch_problem, envelope_problem
from lgr.core.errors import LgrError

Envelope = envelope_pb2.Envelope

KINDS = ("log", "counter", "gauge", "timer", "event")


class MalformedEnvelope(LgrError, ValueError):
    """Bytes that are not a valid serialized Envelope or EnvelopeBatch."""


# --- builders -------------------------------------------------------------------------------

def _base(
    source_id: str,
    instance_id: str,
    tags: Mapping[str, str] | None,
    timestamp: int | None,
) -> envelope_pb2.Envelope:
    env = envelope_pb2.Envelope(
        timestamp=time.time_ns() if timestamp is None else timestamp,
        source_id=source_id,
        instance_id=instance_id,
    )
    if tags:
        env.tags.update(tags)
    return env


def log(
    payload: bytes | str,
    *,
    source_id: str = "",
    instance_id: str = "",
    type: str = "OUT",  # noqa: A002 - mirrors the proto field name
    tags: Mapping[str, str] | None = None,
    timestamp: int | None = None,
) -> envelope_pb2.Envelope:
    """Build a Log envelope; a str payload is encoded as UTF-8, ``type`` is "OUT" or "ERR"."""
    if type not in ("OUT", "ERR"):
        raise ValueError(f"log type must be 'OUT' or 'ERR', not {type!r}")
    env = _base(source_id, instance_id, tags, timestamp)
    env.log.payload = payload.encode() if isinstance(payload, str) else bytes(payload)
    env.log.type = envelope_pb2.Log.Type.Value(type)
    return env


def counter(
    name: str,
    *,
    delta: int = 0,
    total: int = 0,
    source_id: str = "",
    instance_id: str = "",
    tags: Mapping[str, str] | None = None,
    timestamp: int | None = None,
) -> envelope_pb2.Envelope:
    """Build a Counter envelope."""
    env = _base(source_id, instance_id, tags, timestamp)
    env.counter.name = name
    env.counter.delta = delta
    env.counter.total = total
    return env


def gauge(
    metrics: Mapping[str, tuple[float, str]] | Mapping[str, float],
    *,
    source_id: str = "",
    instance_id: str = "",
    tags: Mapping[str, str] | None = None,
    timestamp: int | None = None,
) -> envelope_pb2.Envelope:
    """Build a Gauge envelope from ``{name: (value, unit)}`` or ``{name: value}`` (unit "")."""
    env = _base(source_id, instance_id, tags, timestamp)
    out = env.gauge.metrics
    # Set the oneof even when there are no metrics: an empty gauge is still a gauge.
    env.gauge.SetInParent()
    for name, metric in metrics.items():
        if isinstance(metric, tuple):
            value, unit = metric
        else:
            value, unit = metric, ""
        out[name].value = value
        out[name].unit = unit
    return env


def timer(
    name: str,
    start: int,
    stop: int,
    *,
    source_id: str = "",
    instance_id: str = "",
    tags: Mapping[str, str] | None = None,
    timestamp: int | None = None,
) -> envelope_pb2.Envelope:
    """Build a Timer envelope; ``start`` and ``stop`` are Unix nanoseconds."""
    env = _base(source_id, instance_id, tags, timestamp)
    env.timer.name = name
    env.timer.start = start
    env.timer.stop = stop
    return env


def event(
    title: str,
    body: str,
    *,
    source_id: str = "",
    instance_id: str = "",
    tags: Mapping[str, str] | None = None,
    timestamp: int | None = None,
) -> envelope_pb2.Envelope:
    """Build an Event envelope."""
    env = _base(source_id, instance_id, tags, timestamp)
    env.event.title = title
    env.event.body = body
    return env


def kind_of(env: envelope_pb2.Envelope) -> str:
    """Return the envelope's kind: "log", "counter", "gauge", "timer", "event", or "" for none."""
    return env.WhichOneof("message") or ""


def to_json(env: envelope_pb2.Envelope) -> dict[str, Any]:
    """Return the envelope as protojson with unpopulated fields shown, as a dict.

    Keys and value forms match the rlp gateway's (``source_id``, int64 as strings, base64
    payloads), but number formatting is Python's; the gateway owns its exact text.
    """
    return json_format.MessageToDict(env, always_print_fields_with_no_presence=True)


# --- wire-level helpers ---------------------------------------------------------------------
#
# BatchSlices, a private "view" of EnvelopeBatch, reads field 1 as raw bytes, so upb cuts a batch
# into its envelopes in C without parsing them. It is built at import rather than generated
# because it is this module's implementation detail, not part of the protocol in proto/.

def _build_slices() -> type[Message]:
    F = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(
        name="lgr/core/envelope_views.proto", package="lgr.wire", syntax="proto3"
    )
    slices = proto.message_type.add(name="BatchSlices")
    slices.field.add(name="batch", number=1, type=F.TYPE_BYTES, label=F.LABEL_REPEATED)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("lgr.wire.BatchSlices"))


_BatchSlices = _build_slices()
_parse_slices = _BatchSlices.FromString
_parse_envelope = envelope_pb2.Envelope.FromString
_parse_batch = envelope_pb2.EnvelopeBatch.FromString


def peek(env_bytes: bytes) -> tuple[str, str]:
    """Return ``(source_id, kind)`` of a serialized Envelope.

    ``kind`` is "" when the envelope has no message. Raises :class:`MalformedEnvelope`, naming the
    problem, for whatever a full parse refuses (see the module doc).
    """
    try:
        env = _parse_envelope(env_bytes)
    except DecodeError:
        raise MalformedEnvelope(f"invalid envelope: {envelope_problem(env_bytes)}") from None
    return env.source_id, env.WhichOneof("message") or ""


def split_batch(batch_bytes: bytes) -> list[bytes]:
    """Return the serialized Envelopes of a serialized EnvelopeBatch, in order, unparsed.

    Checks only the batch's own wire structure, not the envelopes (see the module doc).
    """
    try:
        return list(_parse_slices(batch_bytes).batch)
    except DecodeError as exc:
        raise MalformedEnvelope(f"malformed envelope batch: {upb_reason(exc)}") from None


def peek_batch(batch_bytes: bytes) -> list[tuple[bytes, str, str]]:
    """Return ``(envelope_bytes, source_id, kind)`` for each Envelope of a serialized batch.

    Raises :class:`MalformedEnvelope`, naming the first bad envelope and field, when any envelope
    of the batch is one a full parse refuses: the whole batch is refused, as upstream's gRPC
    unmarshal refuses the whole message.
    """
    try:
        parsed = _parse_batch(batch_bytes).batch
    except DecodeError as exc:
        raise MalformedEnvelope(_describe_batch(batch_bytes, exc)) from None
    slices = _parse_slices(batch_bytes).batch
    return [(data, env.source_id, env.WhichOneof("message") or "")
            for data, env in zip(slices, parsed, strict=True)]


def _describe_batch(batch_bytes: bytes, exc: DecodeError) -> str:
    try:
        pieces = split_batch(batch_bytes)
    except MalformedEnvelope as outer:
        return str(outer)
    return f"invalid envelope batch: {batch_problem(pieces, exc)}"


def join_batch(envs: Iterable[bytes]) -> bytes:
    """Return EnvelopeBatch bytes holding the given serialized Envelopes, in order."""
    return _BatchSlices(batch=envs).SerializeToString()
