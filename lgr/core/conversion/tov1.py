"""v2 → v1: a loggregator v2 Envelope as dropsonde Envelopes, by go-loggregator's ToV1 rules.

Rules (pinned by tests/vectors/v2_to_v1.json):

- Every v1 envelope gets ``origin``, ``deployment``, ``job``, ``index`` and ``ip`` (``""`` when
  missing), read from ``tags`` first, then ``deprecated_tags``; the same preference fills every
  other field taken from a tag.
- The v1 tag map is ``tags`` overwritten by ``deprecated_tags`` (integers ``%d``, decimals
  ``%f``), plus ``source_id`` when non-empty, minus the base keys, ``__v1_type`` and whatever the
  type consumed into fields.
- Log → LogMessage, or Error when ``__v1_type`` is "Error"; Counter → CounterEvent; Timer →
  HttpStartStop; Gauge → one ContainerMetric when it carries all five container metrics, else
  one ValueMetric per metric. Event and no message → ``[]``.

Upstream ranges over a Go map for a multi-metric gauge, so its ValueMetric order is random; ours
is sorted by metric name.
"""

from __future__ import annotations

from lgr.core._proto.events import envelope_pb2 as v1_envelope_pb2
from lgr.core._proto.events import http_pb2, log_pb2, metric_pb2
from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.conversion.gostrconv import (
    float_to_int64,
    float_to_uint64,
    format_f,
    parse_int,
    parse_int32_clamped,
    wrap_int32,
)
from lgr.core.conversion.uuids import uuid_from_string

V1Envelope = v1_envelope_pb2.Envelope

_BASE_KEYS = ("origin", "deployment", "job", "index", "ip", "__v1_type")
_HTTP_KEYS = (
    "request_id", "peer_type", "method", "uri", "remote_address", "user_agent",
    "status_code", "content_length", "routing_instance_id", "forwarded",
)
_CONTAINER_METRICS = ("cpu", "memory", "disk", "memory_quota", "disk_quota")
_PEER_TYPES = dict(http_pb2.PeerType.items())
_METHODS = dict(http_pb2.Method.items())
# Field numbers of HttpStartStop.peerType and .method, for writing the enum value 0 (below).
_PEER_TYPE_FIELD = http_pb2.HttpStartStop.DESCRIPTOR.fields_by_name["peerType"].number
_METHOD_FIELD = http_pb2.HttpStartStop.DESCRIPTOR.fields_by_name["method"].number


def _value_text(value: envelope_pb2.Value) -> str:
    which = value.WhichOneof("data")
    if which == "text":
        return value.text
    if which == "integer":
        return str(value.integer)
    if which == "decimal":
        return format_f(value.decimal)
    return ""


def _tag(env: envelope_pb2.Envelope, key: str) -> str:
    """Upstream's getV2Tag: ``tags[key]`` if present, else the deprecated tag's text."""
    if key in env.tags:
        return env.tags[key]
    if key in env.deprecated_tags:
        return _value_text(env.deprecated_tags[key])
    return ""


def _base(
    env: envelope_pb2.Envelope, consumed: tuple[str, ...] = (), with_instance_id: bool = False
) -> V1Envelope:
    """The v1 envelope's common fields and tag map, less the tags ``consumed`` into fields."""
    tags = dict(env.tags)
    for key, value in env.deprecated_tags.items():
        tags[key] = _value_text(value)
    if env.source_id:
        tags["source_id"] = env.source_id
    if with_instance_id and env.instance_id:
        tags["instance_id"] = env.instance_id
    for key in _BASE_KEYS:
        tags.pop(key, None)
    for key in consumed:
        tags.pop(key, None)
    return V1Envelope(
        origin=_tag(env, "origin"),
        deployment=_tag(env, "deployment"),
        job=_tag(env, "job"),
        index=_tag(env, "index"),
        ip=_tag(env, "ip"),
        timestamp=env.timestamp,
        tags=tags,
    )


def to_v1(env: envelope_pb2.Envelope) -> list[v1_envelope_pb2.Envelope]:
    """Convert a v2 envelope to zero or more v1 envelopes; the input is not modified."""
    kind = env.WhichOneof("message")
    if kind == "log":
        return [_error(env) if _tag(env, "__v1_type") == "Error" else _log(env)]
    if kind == "counter":
        return [_counter(env)]
    if kind == "gauge":
        return _gauge(env)
    if kind == "timer":
        return [_timer(env)]
    return []


def _log(env: envelope_pb2.Envelope) -> V1Envelope:
    v1 = _base(env, ("source_type",))
    v1.eventType = V1Envelope.LogMessage
    msg = v1.logMessage
    msg.message = env.log.payload
    msg.message_type = (
        log_pb2.LogMessage.ERR if env.log.type == envelope_pb2.Log.ERR else log_pb2.LogMessage.OUT
    )
    msg.timestamp = env.timestamp
    msg.app_id = env.source_id
    msg.source_type = _tag(env, "source_type")
    msg.source_instance = env.instance_id
    return v1


def _error(env: envelope_pb2.Envelope) -> V1Envelope:
    v1 = _base(env, ("source", "code"))
    v1.eventType = V1Envelope.Error
    error = v1.error
    error.source = _tag(env, "source")
    error.code = parse_int32_clamped(_tag(env, "code"))
    payload = env.log.payload
    try:
        error.message = payload.decode()
    except UnicodeDecodeError:
        # Go copies the bytes into the proto2 string as they are; upb takes them only as wire
        # data. Field 3 is Error.message.
        error.MergeFromString(b"\x1a" + varint(len(payload)) + payload)
    return v1


def _counter(env: envelope_pb2.Envelope) -> V1Envelope:
    v1 = _base(env, with_instance_id=True)
    v1.eventType = V1Envelope.CounterEvent
    v1.counterEvent.CopyFrom(
        metric_pb2.CounterEvent(
            name=env.counter.name, delta=env.counter.delta, total=env.counter.total
        )
    )
    return v1


def _gauge(env: envelope_pb2.Envelope) -> list[V1Envelope]:
    metrics = env.gauge.metrics
    if _is_container_metric(metrics):
        return [_container_metric(env)]
    out = []
    for name in sorted(metrics):
        v1 = _base(env, with_instance_id=True)
        v1.eventType = V1Envelope.ValueMetric
        value = metrics[name]
        v1.valueMetric.CopyFrom(
            metric_pb2.ValueMetric(name=name, value=value.value, unit=value.unit)
        )
        out.append(v1)
    return out


def _is_container_metric(metrics: object) -> bool:
    if len(metrics) == 1:  # type: ignore[arg-type]
        return False
    for name in _CONTAINER_METRICS:
        if name not in metrics:  # type: ignore[operator]
            return False
        value = metrics[name]  # type: ignore[index]
        if value.unit == "" and value.value == 0:
            return False
    return True


def _container_metric(env: envelope_pb2.Envelope) -> V1Envelope:
    metrics = env.gauge.metrics
    v1 = _base(env)
    v1.eventType = V1Envelope.ContainerMetric
    if "instance_index" in metrics:
        index = float_to_int64(metrics["instance_index"].value)
    else:
        index = parse_int(env.instance_id)
    v1.containerMetric.CopyFrom(
        metric_pb2.ContainerMetric(
            applicationId=env.source_id,
            instanceIndex=wrap_int32(index),
            cpuPercentage=metrics["cpu"].value,
            memoryBytes=float_to_uint64(metrics["memory"].value),
            diskBytes=float_to_uint64(metrics["disk"].value),
            memoryBytesQuota=float_to_uint64(metrics["memory_quota"].value),
            diskBytesQuota=float_to_uint64(metrics["disk_quota"].value),
        )
    )
    return v1


def _timer(env: envelope_pb2.Envelope) -> V1Envelope:
    v1 = _base(env, _HTTP_KEYS)
    v1.eventType = V1Envelope.HttpStartStop
    http = v1.httpStartStop
    http.startTimestamp = env.timer.start
    http.stopTimestamp = env.timer.stop
    request_id = uuid_from_string(_tag(env, "request_id"))
    if request_id is not None:
        http.requestId.CopyFrom(request_id)
    peer_type = _PEER_TYPES.get(_tag(env, "peer_type"), 0)
    method = _METHODS.get(_tag(env, "method"), 0)
    invalid = b""
    # Upstream writes 0 for an unknown name, which is not a value of these closed proto2 enums:
    # upb will not hold it in the field, only as wire data, which serializes the same way.
    if peer_type:
        http.peerType = peer_type
    else:
        invalid += bytes((_PEER_TYPE_FIELD << 3, 0))
    if method:
        http.method = method
    else:
        invalid += bytes((_METHOD_FIELD << 3, 0))
    http.uri = _tag(env, "uri")
    http.remoteAddress = _tag(env, "remote_address")
    http.userAgent = _tag(env, "user_agent")
    http.statusCode = wrap_int32(parse_int(_tag(env, "status_code")))
    http.contentLength = parse_int(_tag(env, "content_length"))
    application_id = uuid_from_string(env.source_id)
    if application_id is not None:
        http.applicationId.CopyFrom(application_id)
    http.instanceIndex = wrap_int32(parse_int(env.instance_id))
    http.instanceId = _tag(env, "routing_instance_id")
    http.forwarded.extend(_tag(env, "forwarded").split("\n"))
    if invalid:
        http.MergeFromString(invalid)
    return v1


def varint(value: int) -> bytes:
    """``value`` as a protobuf varint."""
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)

