"""Faults end to end: stalled consumers, a router killed and restarted, bad clients and bad input.

Drops are counted where they happen; a router outage loses only what was sent during it, and the
agent counts that loss; clients without a CA-signed certificate are refused; malformed, oversized
and invalid requests get a clear status and leave the servers running.
"""

from __future__ import annotations

import re
import signal
import threading

import grpc
import pytest

from lgr.core import envelope
from lgr.core._proto.loggregator.v2 import egress_pb2, envelope_pb2
from lgr.core.grpc_server import identity
from lgr.core.tls import MAX_MESSAGE_BYTES, client_credentials
from tests.conftest import wait_until
from tests.e2e.conftest import E2EStack
from tests.e2e.helpers import Consumer, Emitter, channel, selector

pytestmark = pytest.mark.e2e


def _seq(env: envelope_pb2.Envelope) -> int:
    return int(env.log.payload)


class SteadyEmitter:
    """Sends numbered logs (payload = sequence number) in small batches until stopped."""

    def __init__(self, emitter: Emitter, source_id: str, batch: int = 10, interval: float = 0.01) -> None:
        self.sent = 0
        self._emitter, self._src, self._batch, self._interval = emitter, source_id, batch, interval
        self._stop = threading.Event()
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _batches(self):
        while not self._stop.is_set():
            start = self.sent
            yield [envelope.log(str(i), source_id=self._src) for i in range(start, start + self._batch)]
            self.sent = start + self._batch
            self._stop.wait(self._interval)

    def _run(self) -> None:
        try:
            self._emitter.send_batches(self._batches(), timeout=120)
        except Exception as exc:  # noqa: BLE001 - reported by stop()
            self.error = exc

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(10)
        assert self.error is None, self.error
        return self.sent


def test_stalled_consumer_drops_are_counted_and_the_fast_one_keeps_receiving(make_stack) -> None:
    s: E2EStack = make_stack(extra_env={
        "router": {"LGR_ROUTER_SUBSCRIBER_BUFFER_SIZE": "200"},
        "rlp": {"LGR_RLP_BUFFER_SIZE": "200"},
    })
    src = "stall-app"
    s.consumer([selector("log", src)], stalled=True, wait=False)
    fast = s.consumer([selector("log", src)], wait=False)
    s.wait_subscriptions()
    rlp, router = s.metrics(s.rlp), s.metrics(s.routers[0])
    emitter = s.emitter()
    payload = "x" * 2000

    def dropped() -> float:
        return rlp.value("dropped", direction="egress") + router.value("dropped", direction="egress")

    def flood() -> float:
        emitter.send_batches([envelope.log(payload, source_id=src) for _ in range(100)] for _ in range(10))
        return dropped()

    wait_until(flood, timeout=30, interval=0)  # the stalled stream's buffers overflow
    before = len(fast.received(src))
    marker = envelope.log("marker", source_id=src)
    emitter.send([marker])
    wait_until(lambda: b"marker" in fast.payloads(src), timeout=10)
    assert len(fast.received(src)) > before
    assert fast.error is None


def test_router_killed_and_restarted_loses_only_the_outage_and_counts_it(make_stack) -> None:
    s: E2EStack = make_stack()
    src = "restart-app"
    consumer = s.consumer([selector("log", src)])
    agent, router_metrics = s.metrics(s.agent), (lambda: s.metrics(s.routers[0]))
    steady = SteadyEmitter(s.emitter(), src)

    def received() -> set[int]:
        return {_seq(e) for e in consumer.received(src)}

    # Before the outage nothing is lost.
    wait_until(lambda: steady.sent >= 100, timeout=10)
    before = steady.sent
    wait_until(lambda: set(range(before)) <= received(), timeout=10)
    dropped_before = agent.value("dropped", direction="egress")

    router = s.routers[0]
    router.child.signal(signal.SIGKILL)
    router.child.wait(10)
    # The agent notices and counts what it cannot deliver.
    wait_until(lambda: agent.value("dropped", direction="egress") > dropped_before, timeout=15)
    s.stack.relaunch(router.name)

    # The agent and the rlp reconnect; the same consumer stream carries on.
    wait_until(lambda: router_metrics().value("subscriptions") == 1, timeout=20)
    wait_until(lambda: agent.value("doppler_v2_streams") >= 1, timeout=20)
    recovered = steady.sent
    wait_until(lambda: steady.sent >= recovered + 100, timeout=10)
    end = steady.stop()
    wait_until(lambda: set(range(recovered, end)) <= received(), timeout=15)

    missing = set(range(end)) - received()
    assert missing, "a SIGKILLed router loses what was in flight"
    assert min(missing) >= before and max(missing) < recovered, "loss only during the outage"
    assert agent.value("dropped", direction="egress") > dropped_before
    assert consumer.error is None


def _agent_streams_on(s: E2EStack, router_address: str) -> int:
    """Agent streams to ``router_address`` now: established minus broken, from the agent's log."""
    text = s.agent.child.log_text()
    return (text.count(f"established to router {router_address}\n")
            - len(re.findall(rf"to router {re.escape(router_address)} broke", text)))


def test_one_of_two_routers_dies_and_the_agent_fails_over(make_stack) -> None:
    s: E2EStack = make_stack(routers=2)
    src = "failover-app"
    consumer = s.consumer([selector("log", src)])
    agent = s.metrics(s.agent)
    streams = agent.value("doppler_v2_streams")
    steady = SteadyEmitter(s.emitter(), src)
    wait_until(lambda: steady.sent >= 100, timeout=10)
    victim = s.routers[1]
    assert _agent_streams_on(s, victim.address) > 0, "the agent spreads its streams over both routers"
    victim.child.signal(signal.SIGKILL)
    victim.child.wait(10)

    # Every stream that was on the dead router breaks and reconnects to the other one.
    wait_until(lambda: _agent_streams_on(s, victim.address) == 0, timeout=15)
    wait_until(lambda: agent.value("doppler_v2_streams") == streams, timeout=20)
    after = steady.sent
    wait_until(lambda: steady.sent >= after + 200, timeout=10)
    end = steady.stop()
    wait_until(lambda: set(range(after, end)) <= {_seq(e) for e in consumer.received(src)}, timeout=15)
    assert consumer.error is None


def test_clients_without_a_ca_signed_certificate_are_refused(e2e: E2EStack, pki) -> None:
    rogue = pki.rogue.files("client")
    bad_consumer = Consumer(e2e.rlp.address, rogue, [selector("log", "x")])
    try:
        wait_until(lambda: bad_consumer.error is not None, timeout=10)
        assert bad_consumer.error.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        bad_consumer.close()
    with pytest.raises(grpc.RpcError) as info:
        Emitter(e2e.agent.address, rogue).send([envelope.log("no", source_id="x")])
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE

    # No client certificate at all: refused too.
    creds = grpc.ssl_channel_credentials(root_certificates=pki.ca.read_bytes())
    ch = grpc.secure_channel(e2e.rlp.address, creds,
                             options=[("grpc.ssl_target_name_override", "reverselogproxy")])
    try:
        call = ch.unary_stream("/loggregator.v2.Egress/BatchedReceiver",
                               request_serializer=egress_pb2.EgressBatchRequest.SerializeToString)
        with pytest.raises(grpc.RpcError) as info:
            next(iter(call(egress_pb2.EgressBatchRequest(selectors=[selector("log")]), timeout=5)))
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        ch.close()
    assert e2e.stack.first_dead() is None


def _raw_batch_sender(address: str, files, server_name: str) -> tuple[grpc.Channel, object]:
    # A client that sends raw bytes and may send more than 10 MiB, to reach the server's checks.
    options = [("grpc.max_send_message_length", 4 * MAX_MESSAGE_BYTES),
               ("grpc.ssl_target_name_override", server_name)]
    ch = grpc.secure_channel(address, client_credentials(*files), options=options)
    send = ch.stream_unary("/loggregator.v2.Ingress/BatchSender", request_serializer=identity,
                           response_deserializer=identity)
    return ch, send


GARBAGE = b"\x0a\xff\xff\xff\x0fgarbage"


@pytest.mark.parametrize("kind", ["agent", "router"])
def test_malformed_batches_are_refused_with_a_clear_status(e2e: E2EStack, pki, kind: str) -> None:
    comp = e2e.agent if kind == "agent" else e2e.routers[0]
    server_name = "metron" if kind == "agent" else "doppler"
    ch, send = _raw_batch_sender(comp.address, pki.files("client"), server_name)
    try:
        with pytest.raises(grpc.RpcError) as info:
            send(iter([GARBAGE]), timeout=5)
    finally:
        ch.close()
    # Upstream's Go servers answer INTERNAL ("failed to unmarshal"); lgr's say INVALID_ARGUMENT.
    # UNKNOWN ("Unexpected <class DecodeError>") is grpcio's answer to a deserializer that raised.
    assert info.value.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.INTERNAL), info.value
    assert e2e.stack.first_dead() is None


def test_oversized_and_invalid_requests_get_a_status_and_servers_stay_up(e2e: E2EStack, pki) -> None:
    files = pki.files("client")
    oversized = envelope_pb2.EnvelopeBatch(
        batch=[envelope.log(b"x" * (MAX_MESSAGE_BYTES + 1024), source_id="big")]
    ).SerializeToString()
    for comp, name in ((e2e.agent, "metron"), (e2e.routers[0], "doppler")):
        ch, send = _raw_batch_sender(comp.address, files, name)
        try:
            with pytest.raises(grpc.RpcError) as info:
                send(iter([oversized]), timeout=10)
            assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        finally:
            ch.close()

    rlp = channel(e2e.rlp.address, files, "reverselogproxy")
    try:
        receive = rlp.unary_stream(
            "/loggregator.v2.Egress/BatchedReceiver",
            request_serializer=egress_pb2.EgressBatchRequest.SerializeToString)
        for request in (egress_pb2.EgressBatchRequest(),
                        egress_pb2.EgressBatchRequest(selectors=[egress_pb2.Selector(source_id="x")])):
            with pytest.raises(grpc.RpcError) as info:
                next(iter(receive(request, timeout=5)))
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert info.value.details()
    finally:
        rlp.close()

    assert e2e.stack.first_dead() is None
    src = "after-bad-input"
    consumer = e2e.consumer([selector("log", src)])
    e2e.emitter().send([envelope.log("still here", source_id=src)])
    wait_until(lambda: consumer.payloads(src) == [b"still here"], timeout=10)
