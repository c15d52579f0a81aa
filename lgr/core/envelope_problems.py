"""Envelope problems: why bytes are not a valid serialized Envelope, in words an operator can act on.

upb says only "String field had bad UTF-8" or "Wire format was corrupt". When an envelope does not
parse, :func:`envelope_problem` walks its wire format in Python (slow, but only for bad input) to
name the field: ``tags['k'] value is not valid UTF-8``, ``counter name is not valid UTF-8``, and
:func:`batch_problem` says which envelope of a batch it is. Which fields are proto3 ``string``
(validated, as Go's protobuf validates them at unmarshal) and which are ``bytes`` (a log's
payload: not validated) follows loggregator-api's envelope.proto.
"""

from __future__ import annotations

from collections.abc import Iterator

from google.protobuf.message import DecodeError

from lgr.core._proto.loggregator.v2 import envelope_pb2

_VARINT, _I64, _LEN, _SGROUP, _EGROUP, _I32 = range(6)
_parse_envelope = envelope_pb2.Envelope.FromString


class _Corrupt(Exception):
    pass


def envelope_problem(data: bytes) -> str:
    """What is wrong with ``data`` as a serialized Envelope; "" when it parses."""
    try:
        _parse_envelope(data)
    except DecodeError as exc:
        try:
            field = _bad_string(data)
        except _Corrupt:
            field = None
        if field is not None:
            return f"{field} is not valid UTF-8"
        return upb_reason(exc)
    return ""


def batch_problem(pieces: list[bytes], exc: DecodeError) -> str:
    """What is wrong with a batch whose envelopes are ``pieces`` and whose parse raised ``exc``."""
    for index, piece in enumerate(pieces):
        problem = envelope_problem(piece)
        if problem:
            return f"envelope {index + 1} of {len(pieces)}{_source_of(piece)}: {problem}"
    return upb_reason(exc)


def upb_reason(exc: DecodeError) -> str:
    """upb's reason for refusing a message, in lower case ("wire format was corrupt")."""
    # "Error parsing message with type 'loggregator.v2.Envelope': Wire format was corrupt"
    text = str(exc)
    reason = text.rpartition(": ")[2] if ": " in text else text
    return (reason or "does not parse").lower()


def _source_of(piece: bytes) -> str:
    try:
        for number, wire, value in _fields(piece):
            if number == 2 and wire == _LEN:
                return f" (source_id {_short(value.decode())!r})"  # type: ignore[union-attr]
    except (_Corrupt, UnicodeDecodeError):
        pass
    return ""


def _bad_string(env: bytes) -> str | None:
    """The first string field of the Envelope ``env`` that is not UTF-8, named; None if none."""
    for number, wire, value in _fields(env):
        if wire != _LEN:
            continue
        assert isinstance(value, bytes)
        if number == 2 and not _utf8(value):
            return "source_id"
        if number == 8 and not _utf8(value):
            return "instance_id"
        if number == 9:
            found = _bad_entry("tags", value, lambda v: None if _utf8(v) else "value")
        elif number == 3:
            found = _bad_entry("deprecated_tags", value, lambda v: _bad_in(v, {1: "text"}))
        elif number == 5:
            found = _prefixed("counter", _bad_in(value, {1: "name"}))
        elif number == 7:
            found = _prefixed("timer", _bad_in(value, {1: "name"}))
        elif number == 10:
            found = _prefixed("event", _bad_in(value, {1: "title", 2: "body"}))
        elif number == 6:
            found = None
            for n, w, entry in _fields(value):
                if n == 1 and w == _LEN:
                    found = _bad_entry("gauge metrics", entry,  # type: ignore[arg-type]
                                       lambda v: _bad_in(v, {1: "unit"}))
                    if found:
                        break
        else:
            found = None
        if found:
            return found
    return None


def _bad_in(message: bytes, strings: dict[int, str]) -> str | None:
    for number, wire, value in _fields(message):
        if wire == _LEN and number in strings and not _utf8(value):  # type: ignore[arg-type]
            return strings[number]
    return None


def _bad_entry(field: str, entry: bytes, bad_value) -> str | None:  # noqa: ANN001
    """A map entry {1: key, 2: value}: its key, or what ``bad_value`` finds in its value."""
    key = ""
    for number, wire, value in _fields(entry):
        if wire != _LEN:
            continue
        if number == 1:
            if not _utf8(value):  # type: ignore[arg-type]
                return f"{field} key"
            key = value.decode()  # type: ignore[union-attr]
        elif number == 2:
            found = bad_value(value)
            if found:
                return f"{field}[{_short(key)!r}] {found}"
    return None


def _short(text: str, limit: int = 64) -> str:
    # A hostile key or source id may be megabytes long; a status line need not be.
    return text if len(text) <= limit else text[:limit] + "..."


def _prefixed(field: str, found: str | None) -> str | None:
    return f"{field} {found}" if found else None


def _utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of each field of a message; groups are skipped."""
    pos, end = 0, len(data)
    while pos < end:
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _Corrupt
        if wire == _VARINT:
            value, pos = _varint(data, pos)
            yield number, wire, value
        elif wire == _LEN:
            size, pos = _varint(data, pos)
            if pos + size > end:
                raise _Corrupt
            yield number, wire, data[pos:pos + size]
            pos += size
        elif wire in (_I64, _I32):
            pos += 8 if wire == _I64 else 4
            if pos > end:
                raise _Corrupt
        elif wire == _SGROUP:
            pos = _skip_group(data, pos, number)
        else:
            raise _Corrupt


def _skip_group(data: bytes, pos: int, number: int, depth: int = 0) -> int:
    if depth > 100:
        raise _Corrupt
    while pos < len(data):
        key, pos = _varint(data, pos)
        wire = key & 7
        if wire == _EGROUP:
            if key >> 3 != number:
                raise _Corrupt
            return pos
        if wire == _VARINT:
            _, pos = _varint(data, pos)
        elif wire == _LEN:
            size, pos = _varint(data, pos)
            pos += size
        elif wire in (_I64, _I32):
            pos += 8 if wire == _I64 else 4
        elif wire == _SGROUP:
            pos = _skip_group(data, pos, key >> 3, depth + 1)
        else:
            raise _Corrupt
        if pos > len(data):
            raise _Corrupt
    raise _Corrupt


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    for i in range(pos, min(pos + 10, len(data))):
        byte = data[i]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i + 1
        shift += 7
    raise _Corrupt
