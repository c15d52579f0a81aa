"""Dropsonde decoding: v1 datagrams checked, tagged and converted to v2 as upstream's agent does.

Upstream's v1 path (ingress/v1 unmarshaller, egress/v1 tagger) parses each datagram as an
``events.Envelope`` with proto2's required fields enforced, sets the ``source_id`` tag to the
origin when it is empty, refuses an envelope whose eventType names a message it lacks, and fills
deployment, job, index and ip from AGENT_DEPLOYMENT/JOB/INDEX/IP where the envelope has none.
The result is converted with go-loggregator's ToV2 rules (preferred tags) and then goes through
the same v2 tagging as gRPC envelopes.

Strings that are not UTF-8 (``origin`` included) are accepted, as upstream's proto2 decoding
does, and converted with their bad bytes replaced by U+FFFD (see lgr.core.conversion.tov2).
"""

from __future__ import annotations

from google.protobuf.message import DecodeError

from lgr.core._proto.events import envelope_pb2 as v1
from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.conversion import to_v2
from lgr.core.conversion.tov2 import utf8_text

V1Envelope = v1.Envelope

# eventType -> the message field it requires.
_MESSAGE_FOR_TYPE = {
    V1Envelope.HttpStartStop: "httpStartStop",
    V1Envelope.LogMessage: "logMessage",
    V1Envelope.ValueMetric: "valueMetric",
    V1Envelope.CounterEvent: "counterEvent",
    V1Envelope.Error: "error",
    V1Envelope.ContainerMetric: "containerMetric",
}


class DropsondeDecoder:
    """Turns datagrams into tagged v2 envelopes; ``decode`` returns None for a malformed one."""

    def __init__(self, deployment: str = "", job: str = "", index: str = "", ip: str = "") -> None:
        # An unset field converts as "" anyway, so only non-empty defaults need setting.
        self._defaults = tuple(
            (name, value)
            for name, value in (("deployment", deployment), ("job", job), ("index", index), ("ip", ip))
            if value
        )

    def decode(self, data: bytes) -> envelope_pb2.Envelope | None:
        """The v2 form of one dropsonde datagram, or None when it is not a valid v1 envelope."""
        try:
            env = V1Envelope.FromString(data)
        except DecodeError:
            return None
        if not env.IsInitialized():
            return None
        field = _MESSAGE_FOR_TYPE.get(env.eventType)
        if field is None or not env.HasField(field):
            return None
        tags = env.tags
        if not tags.get("source_id"):
            # origin is bytes when it is not UTF-8 (proto2 allows it): replaced, as to_v2 does.
            tags["source_id"] = utf8_text(env.origin)
        for name, value in self._defaults:
            if not env.HasField(name):
                setattr(env, name, value)
        return to_v2(env, True)
