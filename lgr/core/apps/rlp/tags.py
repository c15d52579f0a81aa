"""Tag convergence: the RLP's rewrite of tags by the consumer's ``use_preferred_tags``.

Upstream's RLP (rlp/internal/egress, convergeTags) rewrites every envelope it forwards:

* ``use_preferred_tags`` true: each ``deprecated_tags`` value moves into ``tags`` as text (text
  as is, integer in decimal, decimal as Go's ``fmt.Sprint(float64)``), replacing a tag of the same
  name, and ``deprecated_tags`` is emptied.
* false (the proto default, what old consumers send): each tag moves into ``deprecated_tags`` as
  a text Value, replacing one of the same name, and ``tags`` is emptied.

Envelopes that the rewrite would not change (no deprecated_tags, resp. no tags) are the common
case, so a batch is first probed through a view that keeps only the field in question, entirely
in upb (~4M env/s); a batch that needs no rewrite is forwarded as the very bytes the router sent.
Moving tags into deprecated_tags is done on the wire: each ``tags`` map entry ``{1: key, 2:
value}`` becomes the ``deprecated_tags`` entry ``{1: key, 2: {1: value}}``, appended after the
envelope's own deprecated entries so that, as upstream, a tag wins over a deprecated tag of the
same name (the last entry of a key wins when a map is parsed); the other fields pass through
untouched as unknown fields of the view. Entries repeat across envelopes (deployment, job, ip...),
so converted entries are cached. A batch holding an entry not laid out as Go and upb write them
is converted by a full parse instead, as is the other direction (rare, and it needs Go's number
formatting).
"""

from __future__ import annotations

import decimal
import math

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from lgr.core._proto.loggregator.v2 import envelope_pb2

EnvelopeBatch = envelope_pb2.EnvelopeBatch
_CACHE_LIMIT = 4096  # converted tag entries kept


def _build_views() -> tuple[type, type, type]:
    F = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(
        name="lgr/core/apps/rlp/tag_views.proto", package="lgr.rlp", syntax="proto3")
    envs = {"Deprecated": [("deprecated_tags", 3)], "Tags": [("tags", 9)],
            "Both": [("deprecated_tags", 3), ("tags", 9)]}
    for name, fields in envs.items():
        env = proto.message_type.add(name=f"{name}Env")
        for field, number in fields:
            env.field.add(name=field, number=number, type=F.TYPE_BYTES, label=F.LABEL_REPEATED)
        batch = proto.message_type.add(name=f"{name}Batch")
        batch.field.add(name="batch", number=1, type=F.TYPE_MESSAGE, label=F.LABEL_REPEATED,
                        type_name=f".lgr.rlp.{name}Env")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return tuple(  # type: ignore[return-value]
        message_factory.GetMessageClass(pool.FindMessageTypeByName(f"lgr.rlp.{name}Batch"))
        for name in envs)


_DeprecatedBatch, _TagsBatch, _BothBatch = _build_views()
_converted: dict[bytes, bytes] = {}


def converge_batch(batch: bytes, use_preferred_tags: bool) -> bytes:
    """Return EnvelopeBatch bytes with tags rewritten as upstream's RLP does (see module doc).

    Returns ``batch`` itself when no envelope needs a change. Raises DecodeError on bad bytes.
    """
    if not _holds(_DeprecatedBatch if use_preferred_tags else _TagsBatch, batch):
        return batch
    if not use_preferred_tags:
        moved = _move_tags_on_the_wire(batch)
        if moved is not None:
            return moved
    parsed = EnvelopeBatch.FromString(batch)
    for env in parsed.batch:
        converge(env, use_preferred_tags)
    return parsed.SerializeToString()


def _holds(view: type, batch: bytes) -> bool:
    # With every other field discarded, an envelope without the probed field is an empty
    # message: 2 bytes (tag, zero length) in the batch.
    probe = view.FromString(batch)
    count = len(probe.batch)
    probe.DiscardUnknownFields()
    return probe.ByteSize() > 2 * count


def _move_tags_on_the_wire(batch: bytes) -> bytes | None:
    view = _BothBatch.FromString(batch)
    get = _converted.get
    for env in view.batch:
        entries = env.tags[:]  # a slice is much cheaper than iterating upb's container
        if not entries:
            continue
        moved = list(map(get, entries))
        if None in moved:
            moved = [get(entry) or _convert(entry) for entry in entries]
            if None in moved:
                return None
        env.deprecated_tags.extend(moved)
        env.ClearField("tags")
    return view.SerializeToString()


def _convert(entry: bytes) -> bytes | None:
    new = _deprecated_entry(entry)
    if new is not None:
        if len(_converted) >= _CACHE_LIMIT:
            _converted.clear()
        _converted[entry] = new
    return new


def _deprecated_entry(entry: bytes) -> bytes | None:
    """``{1: key, 2: text}`` → ``{1: key, 2: {1: text}}``; None unless laid out exactly so."""
    if not entry or entry[0] != 0x0A:
        return None
    key_len, pos = _varint(entry, 1)
    pos += key_len
    if pos >= len(entry) or entry[pos] != 0x12:
        return None
    value_len, start = _varint(entry, pos + 1)
    if start + value_len != len(entry):
        return None
    # The Value message is the text field: the value's bytes under tag 0x0a instead of 0x12.
    inner_len = len(entry) - pos
    return entry[:pos] + b"\x12" + _encode_varint(inner_len) + b"\x0a" + entry[pos + 1:]


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """(value, position after it) of the varint at ``pos``; (huge, end) when it runs off."""
    value = shift = 0
    while pos < len(data):
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return value, pos
        shift += 7
    return len(data) + 1, len(data)


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def converge(env: envelope_pb2.Envelope, use_preferred_tags: bool) -> None:
    """Rewrite one envelope's tags in place, as upstream's RLP does."""
    if use_preferred_tags:
        if env.deprecated_tags:
            tags = env.tags
            for name, value in env.deprecated_tags.items():
                kind = value.WhichOneof("data")
                if kind == "text":
                    tags[name] = value.text
                elif kind == "integer":
                    tags[name] = str(value.integer)
                elif kind == "decimal":
                    tags[name] = go_sprint_float(value.decimal)
            env.ClearField("deprecated_tags")
        return
    if env.tags:
        deprecated = env.deprecated_tags
        for name, text in env.tags.items():
            deprecated[name].text = text
        env.ClearField("tags")


def go_sprint_float(value: float) -> str:
    """Go's ``fmt.Sprint(float64)`` (%v = strconv 'g', -1): shortest digits, %e form when the
    decimal exponent is below -4 or at least 6 (``1e+06``, ``1.5e-05``)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digit_tuple, exponent = decimal.Decimal(repr(value)).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    # repr may write trailing zeros ("100.0"); re-place the point for the stripped digits.
    point = len(digit_tuple) + int(exponent)  # digits before the decimal point
    exp = point - 1
    out = "-" if sign else ""
    # strconv's 'g' with shortest precision decides with precision 6.
    if exp < -4 or exp >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{out}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{out}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{out}{digits}{'0' * (point - len(digits))}"
    return f"{out}{digits[:point]}.{digits[point:]}"
