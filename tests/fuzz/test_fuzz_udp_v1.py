"""Fuzz the agent's v1 UDP path: any datagram goes through the v1 pipeline without raising, and
what comes out is a v1 envelope with its required fields and a source_id tag, whose v2 form (as
the router makes it) every v2 parser accepts (a string that is not UTF-8 becomes U+FFFD there)."""

from __future__ import annotations

from hypothesis import event, given
from hypothesis import strategies as st

from lgr.core._proto.events import envelope_pb2 as v1
from lgr.core._proto.events import error_pb2, http_pb2, log_pb2, metric_pb2, uuid_pb2
from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.apps.agent.v1_pipeline import V1Pipeline
from lgr.core.conversion import to_v2
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
_REGISTRY = Registry()
PIPELINE = V1Pipeline(_REGISTRY, _REGISTRY.counter("malformed", "fuzz"), "cf", "cell", "0",
                      "10.0.0.5")


@fuzz
@given(hostile(SEEDS))
def test_any_datagram_is_refused_or_becomes_a_valid_v1_envelope(data: bytes) -> None:
    out = PIPELINE.prepare(data)
    if out is None:
        event("malformed")
        return
    env = v1.Envelope.FromString(out)
    assert env.IsInitialized()
    assert "source_id" in env.tags or out == data  # untouched only when upb cannot read the tags
    envelope_pb2.Envelope.FromString(to_v2(env, True).SerializeToString())  # every string UTF-8
    event("forwarded")


def test_regression_issue10_finding3_a_non_utf8_origin_is_forwarded() -> None:
    """A datagram whose origin is not UTF-8 raised UnicodeDecodeError, which threw away the
    whole receive batch; it is forwarded now, as upstream accepts it, with the origin's bytes
    as its source_id tag."""
    data = _envelope(v1.Envelope.LogMessage, "", 1).replace(b"\x0a\x01o", b"\x0a\x02\xff\xfe")
    out = PIPELINE.prepare(data)
    assert out is not None
    assert b"\x0a\x09source_id\x12\x02\xff\xfe" in out
    v2 = to_v2(v1.Envelope.FromString(out), True)
    assert v2.tags["origin"] == "\ufffd\ufffd"
