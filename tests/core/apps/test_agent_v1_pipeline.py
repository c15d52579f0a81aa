"""The agent's v1 pipeline, one upstream rule at a time: checks, source_id, tagger, totals."""

from __future__ import annotations

from lgr.core._proto.events import envelope_pb2 as v1
from lgr.core._proto.events import metric_pb2
from lgr.core.apps.agent.v1_pipeline import V1Pipeline, parse_datagram
from lgr.core.metrics import Registry

V1 = v1.Envelope


def value_metric(**fields) -> V1:
    return V1(origin="o", eventType=V1.ValueMetric,
              valueMetric=metric_pb2.ValueMetric(name="n", value=1.0, unit="u"), **fields)


def pipeline(**defaults: str) -> V1Pipeline:
    registry = Registry()
    return V1Pipeline(registry, registry.counter("malformed", "bad"), **defaults)


def test_the_tagger_fills_missing_deployment_job_index_ip_only():
    p = pipeline(deployment="cf", job="cell", index="2", ip="10.0.0.1")
    out = V1.FromString(p.prepare(value_metric(job="own-job", ip="").SerializeToString()))
    # An explicitly empty field counts as set, as in upstream's nil check.
    assert (out.deployment, out.job, out.index, out.ip) == ("cf", "own-job", "2", "")
    assert dict(out.tags) == {"source_id": "o"}
    # With no defaults configured the fields are still set, to "", as upstream's tagger does.
    bare = V1.FromString(pipeline().prepare(value_metric().SerializeToString()))
    assert all(bare.HasField(f) for f in ("deployment", "job", "index", "ip"))


def test_an_explicit_source_id_tag_is_kept_and_an_empty_one_becomes_the_origin():
    p = pipeline()
    kept = V1.FromString(p.prepare(value_metric(tags={"source_id": "mine"}).SerializeToString()))
    assert kept.tags["source_id"] == "mine"
    empty = V1.FromString(p.prepare(value_metric(tags={"source_id": ""}).SerializeToString()))
    assert empty.tags["source_id"] == "o"


def test_a_complete_envelope_is_forwarded_as_the_same_bytes():
    data = value_metric(deployment="d", job="j", index="i", ip="p",
                        tags={"source_id": "s", "z": "1"}).SerializeToString()
    assert pipeline(deployment="other").prepare(data) is data


def test_a_type_without_its_message_or_required_fields_is_refused_and_counted():
    wrong = V1(origin="o", eventType=V1.CounterEvent,
               valueMetric=metric_pb2.ValueMetric(name="n", value=1.0, unit="u"))
    assert parse_datagram(wrong.SerializeToString()) is None
    assert parse_datagram(V1(origin="o").SerializePartialToString()) is None
    p = pipeline()
    p.accept([wrong.SerializeToString(), b"\xff", value_metric().SerializeToString()])
    assert (p.malformed.value, p.ingress.value, len(p.diode)) == (2, 1, 1)


def test_counter_totals_key_on_origin_name_and_v1_tags_not_deployment():
    p = pipeline()

    def total(deployment: str, delta: int, tags=None, total=None) -> int:
        event = metric_pb2.CounterEvent(name="c", delta=delta)
        if total is not None:
            event.total = total
        env = V1(origin="o", eventType=V1.CounterEvent, deployment=deployment, counterEvent=event,
                 tags=tags or {})
        return V1.FromString(p.prepare(env.SerializeToString())).counterEvent.total

    assert total("a", 3) == 3
    assert total("b", 4) == 7  # deployment is not in the key
    assert total("a", 1, tags={"x": "y"}) == 1  # other tags, other counter
    assert total("a", 0, total=50) == 50  # a total resets
    assert total("a", 0) == 50  # a zero delta reports the running total


def test_a_tags_map_with_invalid_utf8_is_tagged_or_else_forwarded_untouched():
    entry = b"\x0a\x02k\xff\x12\x01v"
    bad_tag = b"\x8a\x01" + bytes([len(entry)]) + entry
    data = value_metric().SerializeToString() + bad_tag
    out = pipeline(deployment="cf").prepare(data)
    assert bad_tag in out and V1.FromString(out).deployment == "cf"
    # A counter's key reads every tag, which upb refuses here: forwarded as it came.
    counter = V1(origin="o", eventType=V1.CounterEvent,
                 counterEvent=metric_pb2.CounterEvent(name="c", delta=1)).SerializeToString()
    assert pipeline().prepare(counter + bad_tag) == counter + bad_tag


def test_a_full_buffer_drops_the_oldest_and_counts_them():
    registry = Registry()
    p = V1Pipeline(registry, registry.counter("malformed", "bad"), buffer_size=2)
    p.accept([value_metric(tags={"source_id": str(i)}).SerializeToString() for i in range(5)])
    assert p.dropped.value == 3
    assert [V1.FromString(d).tags["source_id"] for d in p.diode.take(10)] == ["3", "4"]
