"""Selector validation and matching, table-driven from upstream's router vectors."""

from __future__ import annotations

import json

import pytest
from google.protobuf import json_format

from lgr.core._proto.loggregator.v2 import egress_pb2, envelope_pb2
from lgr.core.errors import InvalidSelectorError
from lgr.core.pubsub import PubSub
from lgr.core.selectors import compile_selector, compile_selectors, matches, validate
from tests.conftest import VECTORS

CASES = json.loads((VECTORS / "selectors.json").read_text())

# What the RLP + router pair delivers where it differs from the router alone: the RLP turns a
# lone legacy_selector ({source_id: app-1, log}) into a selector, which then matches the log.
RLP_DELIVERIES = {"legacy_selector_only": 1}


def _request(case) -> egress_pb2.EgressBatchRequest:
    return json_format.ParseDict(case["request"], egress_pb2.EgressBatchRequest())


def _envelope(case) -> envelope_pb2.Envelope:
    return json_format.ParseDict(case["envelope"], envelope_pb2.Envelope())


def _deliveries(request, envelope) -> tuple[int, list[bytes]]:
    """Deliveries of one publish; every publish entry point must agree on the count."""
    counts, gots = [], []
    data = envelope.SerializeToString()
    peeked = (data, envelope.source_id, envelope.WhichOneof("message") or "")
    for publish in (
        lambda ps: ps.publish(envelope, data),
        lambda ps: ps.publish_peeked(*peeked),  # source_id and kind read off the wire
        lambda ps: ps.publish_batch([peeked]),
    ):
        pubsub = PubSub(rand=lambda n: 0)  # upstream computed the vectors with rand fixed at 0
        got: list[bytes] = []
        pubsub.subscribe(request, got.append)
        counts.append(publish(pubsub))
        gots.append(got)
    assert counts[0] == counts[1] == counts[2]
    assert gots[0] == gots[1] == gots[2]
    return counts[0], gots[0]


def _rejected_by_rlp(request) -> bool:
    selectors = list(request.selectors) or (
        [request.legacy_selector] if request.HasField("legacy_selector") else []
    )
    return not selectors or any(s.WhichOneof("Message") is None for s in selectors)


def test_vectors_are_present_and_computed_by_upstream():
    assert len(CASES) >= 28
    assert not any(case["derived_by_reading"] for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_router_delivers_as_upstream(case):
    envelope = _envelope(case)
    count, got = _deliveries(_request(case), envelope)
    assert count == case["deliveries"]
    assert got == [envelope.SerializeToString()] * case["deliveries"]
    assert (count > 0) is case["matches"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_matches_agrees_with_upstream(case):
    request, envelope = _request(case), _envelope(case)
    assert any(matches(s, envelope) for s in request.selectors) is case["matches"]
    assert any(c.matches(envelope) for c in compile_selectors(request.selectors)) is case["matches"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_validate_then_router(case):
    request, envelope = _request(case), _envelope(case)
    if _rejected_by_rlp(request):
        with pytest.raises(InvalidSelectorError):
            validate(request)
        return
    count, _ = _deliveries(validate(request), envelope)
    assert count == RLP_DELIVERIES.get(case["name"], case["deliveries"])


def _sel(**kw) -> egress_pb2.Selector:
    return egress_pb2.Selector(**kw)


def _gauge(*names: str, source_id: str = "app") -> envelope_pb2.Envelope:
    env = envelope_pb2.Envelope(source_id=source_id)
    env.gauge.SetInParent()
    for name in names:
        env.gauge.metrics[name].value = 1.0
    return env


@pytest.mark.parametrize(
    ("names", "metrics", "expected"),
    [
        (["cpu", "cpu"], ["cpu"], False),  # a multiset: duplicates never equal a map's keys
        (["cpu"], ["cpu", "memory"], False),  # subset
        (["memory", "cpu"], ["cpu", "memory"], True),
        ([], [], True),  # no names = any gauge, even one with no metrics
        ([""], [""], True),
        ([""], [], False),  # upstream's hash sum collides here; we compare the names
    ],
)
def test_gauge_names_are_an_exact_multiset(names, metrics, expected):
    selector = _sel(gauge=egress_pb2.GaugeSelector(names=names))
    assert matches(selector, _gauge(*metrics)) is expected


def test_selector_without_message_matches_nothing():
    assert compile_selector(_sel(source_id="app")) is None
    assert not matches(_sel(source_id="app"), envelope_pb2.Envelope(source_id="app", log={}))


def test_compiled_selector_is_plain_values():
    assert compile_selector(_sel(source_id="a", counter={"name": "x"})) == ("a", "counter", "x")
    assert compile_selector(_sel(counter={})) == ("", "counter", None)
    assert compile_selector(_sel(gauge={"names": ["b", "a"]})) == ("", "gauge", ("a", "b"))
    assert compile_selector(_sel(timer={})) == ("", "timer", None)


def test_validate_rejects_empty_selectors():
    with pytest.raises(InvalidSelectorError, match="selectors cannot be empty") as info:
        validate(egress_pb2.EgressBatchRequest(shard_id="s"))
    assert info.value.hint


def test_validate_names_every_selector_without_message():
    request = egress_pb2.EgressRequest(
        selectors=[_sel(source_id="a", log={}), _sel(source_id="b"), _sel(), _sel(event={})]
    )
    with pytest.raises(InvalidSelectorError) as info:
        validate(request)
    assert info.value.message == (
        "selector 1 (source_id 'b'); selector 2 (source_id '') have no message type"
    )
    assert "log, counter, gauge, timer, event" in info.value.hint


def test_validate_names_a_single_bad_selector():
    with pytest.raises(InvalidSelectorError, match=r"^selector 0 \(source_id 'x'\) has no message"):
        validate(egress_pb2.EgressBatchRequest(selectors=[_sel(source_id="x")]))


def test_validate_converts_a_lone_legacy_selector():
    legacy = _sel(source_id="app", log={})
    request = egress_pb2.EgressRequest(
        shard_id="s", legacy_selector=legacy, use_preferred_tags=True
    )
    out = validate(request)
    assert isinstance(out, egress_pb2.EgressRequest)
    assert list(out.selectors) == [legacy]
    assert not out.HasField("legacy_selector")
    assert out.shard_id == "s" and out.use_preferred_tags
    assert request.HasField("legacy_selector") and not request.selectors  # input untouched


def test_validate_ignores_legacy_when_selectors_are_set():
    request = egress_pb2.EgressBatchRequest(
        legacy_selector=_sel(source_id="old", log={}), selectors=[_sel(source_id="new", counter={})]
    )
    out = validate(request)
    assert [s.source_id for s in out.selectors] == ["new"]
    assert not out.HasField("legacy_selector")


def test_validate_rejects_a_legacy_selector_without_message():
    with pytest.raises(InvalidSelectorError, match="selector 0"):
        validate(egress_pb2.EgressBatchRequest(legacy_selector=_sel(source_id="app")))
