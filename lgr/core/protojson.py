"""Protojson: the exact compact JSON text Go's protojson writes for v2 envelopes (EmitUnpopulated).

Upstream's rlp gateway (``/v2/read``) and ``cf tail --json`` print envelopes with
``protojson.MarshalOptions{EmitUnpopulated: true}``. Python's ``json_format`` gives the same
value but not the same text (key order, ``3.0`` for ``3``, ``1e-07``), so this writes the text
field by field, as tests/vectors/gateway_json.json pins it (its canonical, compact form):

- keys in .proto declaration order; ``source_id``, ``instance_id`` and ``deprecated_tags`` keep
  their json_name, other fields are lowerCamel; map keys sorted; an unset oneof is left out;
- 64-bit integers as strings, bytes as padded standard base64, enums by name;
- doubles in shortest round-trip form, exponent form below 1e-6 and from 1e21 up (``1e-7``,
  ``1e+21``); NaN and the infinities as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``;
- strings escaped like ``encoding/json`` minus its HTML escaping: ``<``, ``>``, ``&``, U+2028 and
  non-ASCII stay raw.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable
from decimal import Decimal

from lgr.core._proto.loggregator.v2 import envelope_pb2

_string = json.JSONEncoder(ensure_ascii=False).encode  # same escapes as Go's protojson


def format_double(value: float) -> str:
    """A double as Go's protojson writes it (a JSON number, or a quoted NaN/Infinity)."""
    if math.isnan(value):
        return '"NaN"'
    if math.isinf(value):
        return '"Infinity"' if value > 0 else '"-Infinity"'
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        # repr is already the shortest round-trip digits in exponent form here; Go writes
        # "e-7" where Python writes "e-07" (positive exponents are >= 21, two digits in both).
        text = repr(value)
        mantissa, _, exponent = text.partition("e")
        sign, digits = exponent[0], exponent[1:].lstrip("0")
        return f"{mantissa}e{sign}{digits.rjust(2, '0') if sign == '+' else digits}"
    # Shortest digits, printed without an exponent: 3.0 -> 3, 1.2345678901234568e+20 ->
    # 123456789012345680000, -0.0 -> -0.
    return format(Decimal(repr(value)).normalize(), "f")


def _map(items: Iterable[tuple[str, str]]) -> str:
    return "{" + ",".join(f"{_string(k)}:{v}" for k, v in sorted(items)) + "}"


def _value(value: envelope_pb2.Value) -> str:
    which = value.WhichOneof("data")
    if which == "text":
        return '{"text":' + _string(value.text) + "}"
    if which == "integer":
        return '{"integer":"' + str(value.integer) + '"}'
    if which == "decimal":
        return '{"decimal":' + format_double(value.decimal) + "}"
    return "{}"


def _message(env: envelope_pb2.Envelope, kind: str) -> str:
    if kind == "log":
        log = env.log
        payload = base64.b64encode(log.payload).decode("ascii")
        type_name = envelope_pb2.Log.Type.Name(log.type) if log.type in (0, 1) else str(log.type)
        return f'"log":{{"payload":"{payload}","type":"{type_name}"}}'
    if kind == "counter":
        c = env.counter
        return f'"counter":{{"name":{_string(c.name)},"delta":"{c.delta}","total":"{c.total}"}}'
    if kind == "gauge":
        metrics = _map(
            (name, '{"unit":' + _string(m.unit) + ',"value":' + format_double(m.value) + "}")
            for name, m in env.gauge.metrics.items()
        )
        return f'"gauge":{{"metrics":{metrics}}}'
    if kind == "timer":
        t = env.timer
        return f'"timer":{{"name":{_string(t.name)},"start":"{t.start}","stop":"{t.stop}"}}'
    if kind == "event":
        e = env.event
        return f'"event":{{"title":{_string(e.title)},"body":{_string(e.body)}}}'
    return ""


def envelope_json(env: envelope_pb2.Envelope) -> str:
    """One envelope as Go's compact protojson with EmitUnpopulated."""
    parts = [
        f'"timestamp":"{env.timestamp}"',
        f'"source_id":{_string(env.source_id)}',
        f'"instance_id":{_string(env.instance_id)}',
        '"deprecated_tags":' + _map((k, _value(v)) for k, v in env.deprecated_tags.items()),
        '"tags":' + _map((k, _string(v)) for k, v in env.tags.items()),
    ]
    kind = env.WhichOneof("message")
    if kind:
        parts.append(_message(env, kind))
    return "{" + ",".join(parts) + "}"


def batch_json(envs: Iterable[envelope_pb2.Envelope]) -> str:
    """An EnvelopeBatch as Go's compact protojson: ``{"batch":[...]}``."""
    return '{"batch":[' + ",".join(envelope_json(e) for e in envs) + "]}"
