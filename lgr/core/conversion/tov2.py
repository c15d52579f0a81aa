"""v1 → v2: a dropsonde Envelope as a loggregator v2 Envelope, by go-loggregator's ToV2 rules.

Rules (pinned by tests/vectors/v1_to_v2.json):

- The timestamp is the envelope's; a LogMessage's own timestamp is ignored.
- Tags: the v1 tags, then ``origin``, ``deployment``, ``job``, ``index``, ``ip`` and ``__v1_type``
  always set (``""`` when unset), overwriting v1 tags of those names; then per-type tags, which
  overwrite too. With ``use_preferred_tags`` they go to ``tags``, otherwise each becomes a text
  Value in ``deprecated_tags``.
- source_id: a non-empty LogMessage ``app_id`` / ContainerMetric ``applicationId`` / non-zero
  HttpStartStop ``applicationId``, else a v1 tag ``source_id`` (present, even if empty), else
  ``deployment + "/" + job``. The ``source_id`` tag is always removed.

Deliberate difference: a v1 string that is not UTF-8 (proto2 allows it) has its bad bytes
replaced with U+FFFD. Upstream copies them into v2 strings, which its own marshal then refuses.
"""

from __future__ import annotations

from collections.abc import Callable

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from lgr.core._proto.events import envelope_pb2 as v1_envelope_pb2
from lgr.core._proto.events import http_pb2, log_pb2
from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.conversion.uuids import ZERO, uuid_to_string

V1Envelope = v1_envelope_pb2.Envelope
_EVENT_TYPE_NAMES = {number: name for name, number in V1Envelope.EventType.items()}
_PEER_TYPE_NAME = http_pb2.PeerType.Name
_METHOD_NAME = http_pb2.Method.Name


def utf8_text(value: str | bytes) -> str:
    """A v1 (proto2) string field's value as str, bad UTF-8 bytes replaced with U+FFFD.

    upb hands back bytes, not str, for a proto2 string field holding invalid UTF-8."""
    if value.__class__ is str:
        return value  # type: ignore[return-value]
    return value.decode("utf-8", "replace")  # type: ignore[union-attr]


def _tags_view() -> type:
    # Envelope.tags (field 17) with bytes keys and values: upb raises on iterating a map that
    # holds invalid UTF-8, which proto2 lets a sender put there.
    F = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(
        name="lgr/core/conversion/v1_tags_view.proto", package="lgr.v1view", syntax="proto3")
    entry = proto.message_type.add(name="Entry")
    entry.field.add(name="key", number=1, type=F.TYPE_BYTES, label=F.LABEL_OPTIONAL)
    entry.field.add(name="value", number=2, type=F.TYPE_BYTES, label=F.LABEL_OPTIONAL)
    view = proto.message_type.add(name="Tags")
    view.field.add(name="tags", number=17, type=F.TYPE_MESSAGE, label=F.LABEL_REPEATED,
                   type_name=".lgr.v1view.Entry")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("lgr.v1view.Tags"))


_TagsView = _tags_view()


def _v1_tags(v1: V1Envelope) -> dict[str, str]:
    if not v1.tags:
        return {}
    try:
        return {utf8_text(k): utf8_text(v) for k, v in v1.tags.items()}
    except UnicodeDecodeError:
        view = _TagsView.FromString(v1.SerializePartialToString())
        return {utf8_text(e.key): utf8_text(e.value) for e in view.tags}


def to_v2(v1: v1_envelope_pb2.Envelope, use_preferred_tags: bool) -> envelope_pb2.Envelope:
    """Convert a v1 envelope to v2; the input is not modified."""
    v1_tags = _v1_tags(v1)
    tags = dict(v1_tags)
    deployment = utf8_text(v1.deployment)
    job = utf8_text(v1.job)
    tags["origin"] = utf8_text(v1.origin)
    tags["deployment"] = deployment
    tags["job"] = job
    tags["index"] = utf8_text(v1.index)
    tags["ip"] = utf8_text(v1.ip)
    event_type = v1.eventType
    tags["__v1_type"] = _EVENT_TYPE_NAMES[event_type]

    env = envelope_pb2.Envelope(timestamp=v1.timestamp)
    source_id = tags.pop("source_id", None)
    env.source_id = f"{deployment}/{job}" if source_id is None else source_id

    _CONVERTERS[event_type](v1, env, tags, v1_tags)

    if use_preferred_tags:
        # A plain loop: ScalarMap.update is MutableMapping's pure-Python one, twice as slow.
        out = env.tags
        for key, value in tags.items():
            out[key] = value
    else:
        deprecated = env.deprecated_tags
        for key, value in tags.items():
            deprecated[key].text = value
    return env


def _log_message(
    v1: V1Envelope, env: envelope_pb2.Envelope, tags: dict[str, str], v1_tags: dict[str, str]
) -> None:
    msg = v1.logMessage
    tags["source_type"] = utf8_text(msg.source_type)
    env.instance_id = utf8_text(msg.source_instance)
    app_id = utf8_text(msg.app_id)
    if app_id:
        env.source_id = app_id
    env.log.payload = msg.message
    env.log.type = (
        envelope_pb2.Log.ERR if msg.message_type == log_pb2.LogMessage.ERR else envelope_pb2.Log.OUT
    )


def _value_metric(
    v1: V1Envelope, env: envelope_pb2.Envelope, tags: dict[str, str], v1_tags: dict[str, str]
) -> None:
    metric = v1.valueMetric
    # Unlike CounterEvent, the instance_id tag stays.
    env.instance_id = v1_tags.get("instance_id", "")
    value = env.gauge.metrics[utf8_text(metric.name)]
    value.unit = utf8_text(metric.unit)
    value.value = metric.value


def _counter_event(
    v1: V1Envelope, env: envelope_pb2.Envelope, tags: dict[str, str], v1_tags: dict[str, str]
) -> None:
    counter = v1.counterEvent
    env.instance_id = v1_tags.get("instance_id", "")
    tags.pop("instance_id", None)
    env.counter.name = utf8_text(counter.name)
    env.counter.delta = counter.delta
    env.counter.total = counter.total


def _http_start_stop(
    v1: V1Envelope, env: envelope_pb2.Envelope, tags: dict[str, str], v1_tags: dict[str, str]
) -> None:
    http = v1.httpStartStop
    env.instance_id = str(http.instanceIndex)
    if http.HasField("applicationId"):
        app_id = uuid_to_string(http.applicationId)
        if app_id != ZERO:
            env.source_id = app_id
    env.timer.name = "http"
    env.timer.start = http.startTimestamp
    env.timer.stop = http.stopTimestamp
    tags["request_id"] = uuid_to_string(http.requestId)
    tags["peer_type"] = _PEER_TYPE_NAME(http.peerType)
    tags["method"] = _METHOD_NAME(http.method)
    tags["uri"] = utf8_text(http.uri)
    tags["remote_address"] = utf8_text(http.remoteAddress)
    tags["user_agent"] = utf8_text(http.userAgent)
    tags["status_code"] = str(http.statusCode)
    tags["content_length"] = str(http.contentLength)
    tags["routing_instance_id"] = utf8_text(http.instanceId)
    tags["forwarded"] = "\n".join(utf8_text(f) for f in http.forwarded)


def _error(
    v1: V1Envelope, env: envelope_pb2.Envelope, tags: dict[str, str], v1_tags: dict[str, str]
) -> None:
    error = v1.error
    tags["source"] = utf8_text(error.source)
    tags["code"] = str(error.code)
    message = error.message
    # Errors become OUT logs; the message bytes pass through even when they are not UTF-8.
    env.log.payload = message.encode() if message.__class__ is str else message
    env.log.type = envelope_pb2.Log.OUT


def _container_metric(
    v1: V1Envelope, env: envelope_pb2.Envelope, tags: dict[str, str], v1_tags: dict[str, str]
) -> None:
    metric = v1.containerMetric
    env.instance_id = str(metric.instanceIndex)
    app_id = utf8_text(metric.applicationId)
    if app_id:
        env.source_id = app_id
    metrics = env.gauge.metrics
    # float(uint64) rounds to nearest like Go's float64(), losing precision above 2**53.
    for name, unit, value in (
        ("cpu", "percentage", metric.cpuPercentage),
        ("memory", "bytes", float(metric.memoryBytes)),
        ("disk", "bytes", float(metric.diskBytes)),
        ("memory_quota", "bytes", float(metric.memoryBytesQuota)),
        ("disk_quota", "bytes", float(metric.diskBytesQuota)),
    ):
        metrics[name].unit = unit
        metrics[name].value = value


_Converter = Callable[
    [V1Envelope, envelope_pb2.Envelope, dict[str, str], dict[str, str]], None
]

_CONVERTERS: dict[int, _Converter] = {
    V1Envelope.LogMessage: _log_message,
    V1Envelope.ValueMetric: _value_metric,
    V1Envelope.CounterEvent: _counter_event,
    V1Envelope.HttpStartStop: _http_start_stop,
    V1Envelope.Error: _error,
    V1Envelope.ContainerMetric: _container_metric,
}
