"""Fuzz the agent's v1 UDP path: any datagram goes through DropsondeDecoder and the v2 tagging
without raising, and what comes out is a v2 envelope that every v2 parser accepts (a string that
is not UTF-8 is converted with U+FFFD, never forwarded)."""

from __future__ import annotations

from hypothesis import event, given
from hypothesis import strategies as st

from lgr.core._proto.events import envelope_pb2 as v1
from lgr.core._proto.events import error_pb2, http_pb2, log_pb2, metric_pb2, uuid_pb2
from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.apps.agent.dropsonde import DropsondeDecoder
from lgr.core.apps.agent.tagging import Tagger, serialize_all
from lgr.core.metrics import Registry
from tests.fuzz.mutations import hostile
from tests.fuzz.support import fuzz

TEXT = st.text(max_size=10)


def _envelope(kind: int, text: str, n: int) -> bytes:
    env = v1.Envelope(origin=text or "o", eventType=kind, timestamp=n, deployment=text, job="j",
                      index="0", ip="10.0.0.1")
    env.tags["t"] = text
    if kind == v1.Envelope.LogMessage:
        env.logMessage.CopyFrom(log_pb2.LogMessage(message=text.encode(), message_type=1,
                                                   timestamp=n, app_id=text, source_type=text))
    elif kind == v1.Envelope.ValueMetric:
        env.valueMetric.CopyFrom(metric_pb2.ValueMetric(name=text, value=n, unit=text))
    elif kind == v1.Envelope.CounterEvent:
        env.counterEvent.CopyFrom(metric_pb2.CounterEvent(name=text, delta=n))
    elif kind == v1.Envelope.Error:
        env.error.CopyFrom(error_pb2.Error(source=text, code=n % 1000, message=text))
    elif kind == v1.Envelope.ContainerMetric:
        env.containerMetric.CopyFrom(metric_pb2.ContainerMetric(
            applicationId=text, instanceIndex=n % 10, cpuPercentage=1.0, memoryBytes=n,
            diskBytes=n))
    else:
        env.httpStartStop.CopyFrom(http_pb2.HttpStartStop(
            startTimestamp=n, stopTimestamp=n + 1, requestId=uuid_pb2.UUID(low=n, high=1),
            peerType=1, method=1, uri=text, remoteAddress=text, userAgent=text, statusCode=200,
            contentLength=n, applicationId=uuid_pb2.UUID(low=1, high=n)))
    return env.SerializeToString()


SEEDS = st.builds(_envelope, st.sampled_from([v1.Envelope.LogMessage, v1.Envelope.ValueMetric,
                                              v1.Envelope.CounterEvent, v1.Envelope.Error,
                                              v1.Envelope.ContainerMetric,
                                              v1.Envelope.HttpStartStop]),
                  TEXT, st.integers(0, 2**40))
DECODER = DropsondeDecoder("cf", "cell", "0", "10.0.0.5")
TAGGER = Tagger({"az": "z1"}, Registry().counter("origin_mappings", "fuzz"))


@fuzz
@given(hostile(SEEDS))
def test_any_datagram_decodes_to_none_or_a_valid_v2_envelope(data: bytes) -> None:
    env = DECODER.decode(data)
    if env is None:
        event("malformed")
        return
    out = serialize_all(TAGGER, [env], v1=True)
    for item in out:
        parsed = envelope_pb2.Envelope.FromString(item)  # checks every string is UTF-8
        assert parsed.source_id == env.source_id
    event("converted")


def test_regression_issue10_finding3_a_non_utf8_origin_converts() -> None:
    """A datagram whose origin is not UTF-8 raised UnicodeDecodeError, which threw away the
    whole receive batch; it converts now, as upstream accepts it."""
    data = _envelope(v1.Envelope.LogMessage, "", 1).replace(b"\x0a\x01o", b"\x0a\x02\xff\xfe")
    env = DECODER.decode(data)
    assert env is not None
    assert env.tags["origin"] == "\ufffd\ufffd"
    envelope_pb2.Envelope.FromString(serialize_all(TAGGER, [env], v1=True)[0])
