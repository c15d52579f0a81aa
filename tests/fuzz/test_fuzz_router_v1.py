"""Fuzz the router's v1 plane: whatever a Pusher stream carries, and whatever v2 bytes reach the
v1 converter, is routed or counted, never raised."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lgr.core._proto.events import envelope_pb2 as v1_envelope_pb2
from lgr.core._proto.plumbing import doppler_pb2
from lgr.core.apps.router.v1_ingress import IngestorService, V2ToV1
from lgr.core.apps.router.v1_routing import V1Router
from lgr.core.metrics import Registry
from tests.core.apps.v1_support import every_v1_kind, subscription
from tests.fuzz.support import fuzz

SEEDS = [e.SerializeToString() for e in every_v1_kind()]


def _mutated(seed: bytes, data: st.DataObject) -> bytes:
    raw = bytearray(seed)
    for _ in range(data.draw(st.integers(0, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    return bytes(raw[:cut]) if data.draw(st.booleans()) else bytes(raw)


class _V2Sink:
    def __init__(self) -> None:
        self.items: list = []

    def __len__(self) -> int:
        return 1  # a v2 subscriber exists, so every good v1 envelope is converted

    def __call__(self, items: list) -> None:
        self.items.extend(items)


@fuzz
@given(st.data())
def test_pusher_payloads_are_routed_or_counted(data):
    registry = Registry()
    ingress = registry.counter("ingress", "in")
    malformed = registry.counter("malformed", "bad")
    router = V1Router()
    got: list[bytes] = []
    router.subscribe(subscription(), got.extend)
    v2 = _V2Sink()
    service = IngestorService(router, v2, v2, ingress, malformed)
    seed = data.draw(st.sampled_from(SEEDS))
    payload = data.draw(st.one_of(st.binary(max_size=300), st.just(seed)))
    if payload and data.draw(st.booleans()):
        payload = _mutated(payload, data)
    wrap = data.draw(st.booleans())
    message = doppler_pb2.EnvelopeData(payload=payload).SerializeToString() if wrap else payload
    service.accept(message)
    assert ingress.value + malformed.value == 1
    if ingress.value:
        assert got == [doppler_pb2.EnvelopeData.FromString(message).payload]
        assert v1_envelope_pb2.Envelope.FromString(got[0]).IsInitialized()
        assert len(v2.items) == 1
    else:
        assert got == [] and v2.items == []


@fuzz
@given(st.lists(st.binary(max_size=200), max_size=5),
       st.lists(st.sampled_from(["log", "counter", "gauge", "timer", "event", ""]), max_size=5))
def test_v2_bytes_for_v1_subscribers_are_converted_or_counted(blobs, kinds):
    registry = Registry()
    errors = registry.counter("v1_marshal_errors", "e")
    router = V1Router()
    got: list[bytes] = []
    router.subscribe(subscription(), got.extend)
    items = [(b, "", k) for b, k in zip(blobs, kinds)]
    V2ToV1(router, errors).publish(items)
    for data in got:
        # Parses; required enums Go counts as set may be wire data here (see conversion.v1marshal).
        assert v1_envelope_pb2.Envelope.FromString(data).HasField("origin")
