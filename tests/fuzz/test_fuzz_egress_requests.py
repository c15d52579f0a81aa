"""Fuzz egress requests: arbitrary, mutated and structured EgressRequest / EgressBatchRequest bytes
into the RLP's and the router's request handling (``grpc_server.parse_request``, then
``selectors.validate`` in the RLP and the PubSub's subscribe in the router), and over real mTLS
gRPC into a running router and RLP: each answers with a stream or INVALID_ARGUMENT, never
anything else, and every stream it opened is gone once the client leaves."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from typing import Any

import grpc
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from lgr.core import envelope
from lgr.core._proto.loggregator.v2 import egress_pb2
from lgr.core.apps.rlp.app import Rlp
from lgr.core.apps.router.app import Router
from lgr.core.errors import InvalidSelectorError
from lgr.core.grpc_server import identity, parse_request
from lgr.core.pubsub import PubSub
from lgr.core.selectors import validate
from tests.conftest import async_wait_until
from tests.core.apps.firehose_support import channel, rlp_config, router_config
from tests.fuzz.support import fuzz

KINDS = ("log", "counter", "gauge", "timer", "event")
TEXT = st.one_of(st.sampled_from(["", "app", "a" * 300, "ü", "\x00"]), st.text(max_size=12))


@st.composite
def selectors(draw: st.DrawFn) -> egress_pb2.Selector:
    sel = egress_pb2.Selector(source_id=draw(TEXT))
    kind = draw(st.sampled_from((*KINDS, None)))
    if kind is not None:
        getattr(sel, kind).SetInParent()
    if kind == "counter":
        sel.counter.name = draw(TEXT)
    if kind == "gauge":
        sel.gauge.names.extend(draw(st.lists(TEXT, max_size=3)))
    return sel


@st.composite
def structured(draw: st.DrawFn) -> bytes:
    cls = draw(st.sampled_from([egress_pb2.EgressRequest, egress_pb2.EgressBatchRequest]))
    req = cls(shard_id=draw(TEXT), deterministic_name=draw(TEXT),
              use_preferred_tags=draw(st.booleans()),
              selectors=draw(st.lists(selectors(), max_size=4)))
    if draw(st.booleans()):
        req.legacy_selector.CopyFrom(draw(selectors()))
    return req.SerializeToString()


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    raw = bytearray(draw(structured()))
    for _ in range(draw(st.integers(1, 4)) if raw else 0):
        i = draw(st.integers(0, len(raw) - 1))
        raw[i] = draw(st.sampled_from([0x00, 0x7F, 0x80, 0xC3, 0xFF, draw(st.integers(0, 255))]))
    if raw and draw(st.booleans()):
        raw = raw[:draw(st.integers(0, len(raw)))]
    return bytes(raw)


REQUEST_BYTES = st.one_of(structured(), mutated(), st.binary(max_size=200),
                          # a string field holding invalid UTF-8: shard_id, a selector's source_id
                          st.sampled_from([b"\x0a\x02\xff\xfe", b"\x22\x04\x0a\x02\xc3\x28",
                                           b"\x22\x02\x12\x00", b"\x22\xff", b""]))


class Aborted(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code


class FakeContext:
    """What parse_request needs of a grpc.aio.ServicerContext: an abort that ends the call."""

    async def abort(self, code: grpc.StatusCode, details: str = "") -> None:
        raise Aborted(code, details)


def _drive(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never suspends (parse_request with FakeContext) to its result."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    raise AssertionError("parse_request suspended")


@fuzz
@given(REQUEST_BYTES, st.sampled_from([egress_pb2.EgressRequest, egress_pb2.EgressBatchRequest]))
def test_request_bytes_parse_and_validate_or_are_invalid_argument(data, cls):
    try:
        request = _drive(parse_request(cls, data, FakeContext()))
    except Aborted as exc:
        assert exc.code == grpc.StatusCode.INVALID_ARGUMENT
        assert str(exc).startswith(f"malformed {cls.DESCRIPTOR.name}")
        event("malformed")
        return
    # The router takes the request as it comes: subscribe, route, unsubscribe.
    pubsub = PubSub()
    got: list[bytes] = []
    sub = pubsub.subscribe(request, got.append, got.extend)
    pubsub.publish_batch([(envelope.log("x", source_id="app").SerializeToString(), "app", "log")])
    sub.unsubscribe()
    # The RLP validates it, then sends its checked form on to every router.
    try:
        checked = validate(request)
    except InvalidSelectorError as exc:
        assert exc.message
        event("invalid selectors")
        return
    event("valid")
    assert checked.selectors and all(s.WhichOneof("Message") for s in checked.selectors)
    egress_pb2.EgressBatchRequest(selectors=checked.selectors).SerializeToString()


class Servers:
    """A router and an RLP reading it, and a consumer channel to each, on a loop of their own."""

    def __init__(self, pki: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.router = Router(router_config(pki, metrics_port=-1))
        self.run(self.router.start())
        self.rlp = Rlp(rlp_config(pki, [self.router.address], metrics_port=-1))
        self.run(self.rlp.start())
        self.channels = self.run(self._channels(pki))  # made on the loop that uses them

    async def _channels(self, pki: Any) -> dict[str, grpc.aio.Channel]:
        return {"router": channel(pki, self.router.address, "doppler"),
                "rlp": channel(pki, self.rlp.address, "reverselogproxy")}

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return self.loop.run_until_complete(asyncio.wait_for(coro, 30))

    async def call(self, server: str, method: str, data: bytes) -> grpc.StatusCode | None:
        """Open ``method`` with ``data``; None when the stream opened (then leave), else its code."""
        rpc = self.channels[server].unary_stream(f"/loggregator.v2.Egress/{method}",
                                                 request_serializer=identity,
                                                 response_deserializer=identity)
        call = rpc(data)
        await call.initial_metadata()
        if not call.done():
            call.cancel()
            return None
        return await call.code()

    def close(self) -> None:
        for ch in self.channels.values():
            self.run(ch.close())
        self.run(self.rlp.stop(1.0))
        self.run(self.router.stop(1.0))
        self.loop.close()


@pytest.fixture(scope="module")
def servers(pki: Any) -> Iterator[Servers]:
    s = Servers(pki)
    try:
        yield s
    finally:
        s.close()


@fuzz
@given(REQUEST_BYTES, st.sampled_from(["BatchedReceiver", "Receiver"]))
def test_real_servers_answer_a_stream_or_invalid_argument(servers, data, method):
    for server in ("router", "rlp"):
        code = servers.run(servers.call(server, method, data))
        event(f"{server}: {code.name if code else 'stream'}")
        assert code in (None, grpc.StatusCode.INVALID_ARGUMENT), (server, data, code)
    # Every stream opened is gone again: no slot, subscription or router stream is left.
    servers.run(async_wait_until(lambda: not servers.rlp.egress.streams
                                 and not servers.router.egress.streams, timeout=10))
    assert servers.rlp.m.subscriptions.value == 0
