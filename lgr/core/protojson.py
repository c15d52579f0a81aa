"""Protojson: the exact compact JSON text Go's protojson writes for v2 envelopes (EmitUnpopulated).

Upstream's rlp gateway (``/v2/read``) and ``cf tail --json`` print envelopes with
``protojson.MarshalOptions{EmitUnpopulated: true}``. Python's ``json_format`` gives the same
value but not the same text (key order, ``3.0`` for ``3``, ``1e-07``), so this writes the text
field by field, as tests/vectors/gateway_json.json pins it (its canonical, compact form):

- keys in .proto declaration order; ``source_id``, ``instance_id`` and ``deprecated_tags`` keep
  their json_name, other fields are lowerCamel; map keys sorted; an unset oneof is left out;
- 64-bit integers as strings, bytes as padded standard base64, enums by name (a value the enum
  does not name as its number);
- doubles in shortest round-trip form, exponent form below 1e-6 and from 1e21 up (``1e-7``,
  ``1e+21``); NaN and the infinities as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``;
- strings escaped like ``encoding/json`` minus its HTML escaping: ``<``, ``>``, ``&``, U+2028 and
  non-ASCII stay raw.

The gateway writes every envelope it streams, so the common parts are cheap: strings go through
the C escaper of the json module (``json.encoder.encode_basestring``, the very function
``JSONEncoder(ensure_ascii=False)`` uses), and the text of what repeats from envelope to envelope
(an app instance's ``source_id`` and ``instance_id``, its tag map) is kept in small tables that are
emptied when they grow past :data:`MEMO_LIMIT` entries.
"""

from __future__ import annotations

import json.encoder
import math
from binascii import b2a_base64
from collections.abc import Callable, Iterable
from decimal import Decimal

from lgr.core._proto.loggregator.v2 import envelope_pb2

# The escaper JSONEncoder(ensure_ascii=False).encode calls for a str (the same escapes as Go's
# protojson, which leaves HTML characters and non-ASCII alone).
_string: Callable[[str], str] = (json.encoder.c_encode_basestring  # type: ignore[attr-defined]
                                 or json.encoder.py_encode_basestring)
MEMO_LIMIT = 4096  # entries per table of rendered fragments
_LOG_TYPES = {0: '"OUT"', 1: '"ERR"'}


def format_double(value: float) -> str:
    """A double as Go's protojson writes it (a JSON number, or a quoted NaN/Infinity)."""
    text = repr(value)
    if "e" not in text and "n" not in text:
        # Shortest round-trip digits in positional form, as Go writes 1e-6 <= |v| < 1e21
        # (repr is positional for 1e-4 <= |v| < 1e16): drop the ".0" of an integral value.
        return text.removesuffix(".0")
    if math.isnan(value):
        return '"NaN"'
    if math.isinf(value):
        return '"Infinity"' if value > 0 else '"-Infinity"'
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        # repr is already the shortest round-trip digits in exponent form here; Go writes
        # "e-7" where Python writes "e-07" (positive exponents are >= 21, two digits in both).
        mantissa, _, exponent = text.partition("e")
        sign, digits = exponent[0], exponent[1:].lstrip("0")
        return f"{mantissa}e{sign}{digits.rjust(2, '0') if sign == '+' else digits}"
    # Shortest digits, printed without an exponent: 1.2345678901234568e+20 ->
    # 123456789012345680000, 1e-05 -> 0.00001.
    return format(Decimal(text).normalize(), "f")


def _map(items: Iterable[tuple[str, str]]) -> str:
    return "{" + ",".join([f"{_string(k)}:{v}" for k, v in sorted(items)]) + "}"


def _value(value: envelope_pb2.Value) -> str:
    which = value.WhichOneof("data")
    if which == "text":
        return '{"text":' + _string(value.text) + "}"
    if which == "integer":
        return '{"integer":"' + str(value.integer) + '"}'
    if which == "decimal":
        return '{"decimal":' + format_double(value.decimal) + "}"
    return "{}"


# --- memo table of repeating fragments ---------------------------------------------------------

# (source_id, instance_id, *tag keys, *tag values) -> the text from after the timestamp through
# the tag map, for envelopes without deprecated_tags: an app instance's lines all share it.
_heads: dict[tuple[str, ...], str] = {}


def _head(key: tuple[str, ...]) -> str:
    n = (len(key) - 2) // 2
    tags = zip(key[2:2 + n], key[2 + n:])
    text = (f',"source_id":{_string(key[0])},"instance_id":{_string(key[1])}'
            f',"deprecated_tags":{{}},"tags":' + _map((k, _string(v)) for k, v in tags))
    if len(_heads) >= MEMO_LIMIT:
        _heads.clear()
    _heads[key] = text
    return text


# --- messages -----------------------------------------------------------------------------------

def _log(log: envelope_pb2.Log) -> str:
    payload = b2a_base64(log.payload, newline=False).decode("ascii")
    return f',"log":{{"payload":"{payload}","type":{_LOG_TYPES.get(log.type) or log.type}}}'


def _counter(c: envelope_pb2.Counter) -> str:
    return f',"counter":{{"name":{_string(c.name)},"delta":"{c.delta}","total":"{c.total}"}}'


def _gauge(g: envelope_pb2.Gauge) -> str:
    metrics = g.metrics
    body = _map(
        (name, '{"unit":' + _string(m.unit) + ',"value":' + format_double(m.value) + "}")
        for name, m in ((name, metrics[name]) for name in metrics)
    )
    return f',"gauge":{{"metrics":{body}}}'


def _timer(t: envelope_pb2.Timer) -> str:
    return f',"timer":{{"name":{_string(t.name)},"start":"{t.start}","stop":"{t.stop}"}}'


def _event(e: envelope_pb2.Event) -> str:
    return f',"event":{{"title":{_string(e.title)},"body":{_string(e.body)}}}'


_MESSAGES: dict[str | None, Callable[..., str]] = {
    "log": _log, "counter": _counter, "gauge": _gauge, "timer": _timer, "event": _event,
}


def envelope_json(env: envelope_pb2.Envelope) -> str:
    """One envelope as Go's compact protojson with EmitUnpopulated."""
    kind = env.WhichOneof("message")
    deprecated = env.deprecated_tags
    if deprecated:
        head = "".join((
            ',"source_id":', _string(env.source_id), ',"instance_id":', _string(env.instance_id),
            ',"deprecated_tags":', _map((k, _value(deprecated[k])) for k in deprecated),
            ',"tags":', _map((k, _string(v)) for k, v in env.tags.items()),
        ))
    else:
        # A map's items through the Mapping ABC cost ~1 µs; its keys, then values by C calls less.
        tags = env.tags
        keys = tuple(tags)
        key = (env.source_id, env.instance_id, *keys, *map(tags.__getitem__, keys))
        head = _heads.get(key) or _head(key)
    if kind == "log":  # the common case, without the table lookup
        body = _log(env.log)
    else:
        body = _MESSAGES[kind](getattr(env, kind)) if kind else ""
    return f'{{"timestamp":"{env.timestamp}"{head}{body}}}'


def batch_json(envs: Iterable[envelope_pb2.Envelope]) -> str:
    """An EnvelopeBatch as Go's compact protojson: ``{"batch":[...]}``."""
    return '{"batch":[' + ",".join([envelope_json(e) for e in envs]) + "]}"
