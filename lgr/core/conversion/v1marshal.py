"""v1 marshaling with Go's required-field check, for envelopes made by :func:`to_v1`.

Upstream's router and traffic controller marshal each converted envelope with a default
``proto.Marshal`` and drop it when that fails on a missing required field (the ``timer_no_tags``
vector). upb counts a closed enum holding the invalid value 0 (kept as wire data, see tov1) as
missing, where Go counts it as set, so a plain ``SerializeToString`` would refuse envelopes that
upstream sends.
"""

from __future__ import annotations

from google.protobuf import unknown_fields
from google.protobuf.message import EncodeError, Message

from lgr.core._proto.events import envelope_pb2 as v1_envelope_pb2
from lgr.core.errors import LgrError


class V1MarshalError(LgrError, ValueError):
    """A v1 envelope lacks a required field, so upstream's proto.Marshal would refuse it."""


def marshal_v1(env: v1_envelope_pb2.Envelope) -> bytes:
    """Serialize a v1 envelope, or raise :class:`V1MarshalError` where Go's marshal fails."""
    try:
        return env.SerializeToString()
    except EncodeError:
        pass
    for path in env.FindInitializationErrors():
        if not _held_as_wire_data(env, path):
            message_name, field = _describe(env, path)
            raise V1MarshalError(f"proto: required field {message_name}.{field} not set")
    return env.SerializePartialToString()


def _walk(env: Message, path: str) -> tuple[Message, str]:
    """Return the message holding the last field of a dotted initialization-error path."""
    *parents, field = path.split(".")
    message = env
    for name in parents:
        # Only singular submessages have required fields in dropsonde, so no indexes occur.
        message = getattr(message, name)
    return message, field


def _describe(env: Message, path: str) -> tuple[str, str]:
    message, field = _walk(env, path)
    return message.DESCRIPTOR.full_name, field


def _held_as_wire_data(env: Message, path: str) -> bool:
    message, field = _walk(env, path)
    number = message.DESCRIPTOR.fields_by_name[field].number
    return any(f.field_number == number for f in unknown_fields.UnknownFieldSet(message))
