"""Prototext: the single-line text Go's ``proto.Message.String()`` prints, for cf tail's output.

``cf tail`` prints an envelope without a message as Go's ``String()``, and shows deprecated tag
values in ``--json`` the same way (``text:"STG"``, ``integer:5``). This writes that text for any
message: fields in declaration order, zero scalars and empty maps left out, map entries sorted
by key as ``name:{key:... value:...}``, nested messages as ``name:{...}``, doubles in Go's
shortest ``%g`` form, strings and bytes quoted with Go's escapes.

Go adds an extra space between fields in some builds (see tests/vectors/README.md, detrand);
this writes the canonical form, with single spaces.
"""

from __future__ import annotations

import math
from decimal import Decimal

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

_FLOAT_TYPES = (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT)
_SIMPLE_ESCAPES = {0x22: '\\"', 0x5C: "\\\\", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}


def message_text(msg: Message) -> str:
    """``msg`` as Go's single-line prototext (its ``String()``)."""
    return " ".join(_fields(msg))


def quote(data: bytes | str) -> str:
    """A string or bytes value quoted as Go's prototext writes it (invalid UTF-8 as ``\\xNN``)."""
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    out = ['"']
    text = raw.decode("utf-8", errors="surrogateescape")
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that is not valid UTF-8
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[code])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif 0x80 <= code <= 0x9F:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def format_float(value: float) -> str:
    """A double as Go's ``strconv.FormatFloat(v, 'g', -1, 64)`` (prototext's float form)."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    number = Decimal(repr(value)).normalize()
    sign, digits, exponent = number.as_tuple()
    exp = len(digits) + int(exponent) - 1
    if exp < -4 or exp >= 6:
        mantissa = str(digits[0]) + ("." + "".join(map(str, digits[1:])) if len(digits) > 1 else "")
        return f"{'-' if sign else ''}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    return format(number, "f")


def _fields(msg: Message) -> list[str]:
    parts: list[str] = []
    for field in msg.DESCRIPTOR.fields:
        value = getattr(msg, field.name)
        if _is_map(field):
            if not value:
                continue
            key_field, value_field = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
            for key in sorted(value):
                entry = f"key:{_scalar(key_field, key)} value:{_single(value_field, value[key])}"
                parts.append(f"{field.name}:{{{entry}}}")
        elif field.is_repeated:
            parts.extend(f"{field.name}:{_single(field, item)}" for item in value)
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            if msg.HasField(field.name):
                parts.append(f"{field.name}:{_single(field, value)}")
        elif field.containing_oneof is not None or field.has_presence:
            if msg.HasField(field.name):
                parts.append(f"{field.name}:{_scalar(field, value)}")
        elif value != field.default_value or (field.type in _FLOAT_TYPES and math.copysign(1, value) < 0):
            parts.append(f"{field.name}:{_scalar(field, value)}")
    return parts


def _is_map(field: FieldDescriptor) -> bool:
    return (
        field.type == FieldDescriptor.TYPE_MESSAGE
        and field.message_type.GetOptions().map_entry
    )


def _single(field: FieldDescriptor, value: object) -> str:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return "{" + message_text(value) + "}"  # type: ignore[arg-type]
    return _scalar(field, value)


def _scalar(field: FieldDescriptor, value: object) -> str:
    if field.type in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES):
        return quote(value)  # type: ignore[arg-type]
    if field.type == FieldDescriptor.TYPE_BOOL:
        return "true" if value else "false"
    if field.type in _FLOAT_TYPES:
        return format_float(value)  # type: ignore[arg-type]
    if field.type == FieldDescriptor.TYPE_ENUM:
        named = field.enum_type.values_by_number.get(value)  # type: ignore[arg-type]
        return named.name if named is not None else str(value)
    return str(value)
