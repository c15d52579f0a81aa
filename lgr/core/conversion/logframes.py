"""Log frames: the v1 frame of a plain v2 log, assembled from parts cached per app instance.

Logs are most of what the traffic controller streams, and everything in a log's v1 form but the
payload, the type and the timestamp follows from its source id, instance id and tags, which repeat
from line to line. So for a log without ``deprecated_tags`` and without a ``__v1_type`` tag, the
first line of an instance is converted by :func:`lgr.core.conversion.to_v1` as any envelope, the
parts that do not vary are serialized once, and each further line is written around them:

    Envelope: origin (1), eventType (2) | timestamp (6), logMessage (8) | deployment (13) .. tags (17)
    LogMessage: message (1), message_type (2), timestamp (3) | app_id (4), source_type (5),
    source_instance (6)

in field-number order, as upb serializes the whole message. A frame parses as exactly the message
``marshal_v1(to_v1(env))`` writes (tests/core/test_logframes.py); the tag map's entries may
come in another order, which protobuf leaves unspecified.
"""

from __future__ import annotations

from lgr.core._proto.events import envelope_pb2 as v1_envelope_pb2
from lgr.core._proto.events import log_pb2
from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.conversion import to_v1

V1Envelope = v1_envelope_pb2.Envelope
PARTS_LIMIT = 4096  # app instances (source, instance, tags) whose parts are kept
LogMessage = log_pb2.LogMessage
_ERR = envelope_pb2.Log.ERR
_TYPES = {True: LogMessage.ERR, False: LogMessage.OUT}

Parts = tuple[bytes, bytes, bytes]  # envelope head, LogMessage tail, envelope tail


class LogFrames:
    """Frames of plain logs; :meth:`frame` answers None for anything else."""

    def __init__(self) -> None:
        self._parts: dict[tuple[str, ...], Parts] = {}

    def frame(self, env: envelope_pb2.Envelope) -> bytes | None:
        """The v1 frame of ``env`` (a log), or None when it must go through to_v1."""
        if env.deprecated_tags:
            return None
        tags = env.tags
        keys = tuple(tags)
        key = (env.source_id, env.instance_id, *keys, *map(tags.__getitem__, keys))
        parts = self._parts.get(key)
        if parts is None:
            if "__v1_type" in tags:
                return None  # it may be an Error, and is dropped from the tags otherwise
            parts = self._remember(key, env)
        head, log_tail, tail = parts
        log = env.log
        timestamp = env.timestamp
        # upb writes message, message_type and timestamp (its varint ends the bytes) in C.
        first = LogMessage(message=log.payload, message_type=_TYPES[log.type == _ERR],
                           timestamp=timestamp).SerializePartialToString()
        stamp = first[-_varint_size(timestamp):]
        message = first + log_tail
        return head + b"\x30" + stamp + b"\x42" + _varint(len(message)) + message + tail

    def _remember(self, key: tuple[str, ...], env: envelope_pb2.Envelope) -> Parts:
        (v1,) = to_v1(env)
        msg = v1.logMessage
        parts = (
            V1Envelope(origin=v1.origin, eventType=v1.eventType).SerializeToString(),
            log_pb2.LogMessage(app_id=msg.app_id, source_type=msg.source_type,
                               source_instance=msg.source_instance).SerializePartialToString(),
            V1Envelope(deployment=v1.deployment, job=v1.job, index=v1.index, ip=v1.ip,
                       tags=v1.tags).SerializePartialToString(),
        )
        if len(self._parts) >= PARTS_LIMIT:
            self._parts.clear()
        self._parts[key] = parts
        return parts


def _varint_size(value: int) -> int:
    """Bytes in the varint of an int64 (a negative one takes ten)."""
    return (value.bit_length() + 6) // 7 or 1 if value >= 0 else 10


def _varint(value: int) -> bytes:
    if value < 0x80:
        return bytes((value,))
    if value < 0x4000:
        return bytes((value & 0x7F | 0x80, value >> 7))
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)
