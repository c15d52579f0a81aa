"""Loss during kills, with real processes: every envelope the agent took is delivered or counted
as dropped somewhere that survives, except what the killed process itself held.

What the design cannot account for is what dies with a process killed by SIGKILL: its in-memory
buffers (bounded by the component's buffer sizes, set small here) and the bytes in the kernel
buffers of its sockets (at this load a few batches). Each test asserts that the uncounted loss
is within that bound and that nothing is counted twice (uncounted >= 0).

- Router killed (two routers, the agent fails over): the agent counts the writes that failed on
  the broken streams and what it could not send while reconnecting; the rlp and the surviving
  router count what their buffers drop.
- Rlp killed (two rlps serving one shard group, as a highly available deployment runs them): the
  router counts what the dead rlp's subscription left in its buffer or had in hand; the other rlp
  carries the shard from then on.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator

from lgr.core._proto.loggregator.v2 import envelope_pb2, ingress_pb2
from tests.conftest import wait_until
from tests.e2e.extra_rlp import second_rlp
from tests.e2e.helpers import Consumer, Metrics, channel, selector

RATE = 2000  # envelopes per second
BATCH = 20
ROUTER_BUFFERS = {"INGRESS_BUFFER_SIZE": "2000", "LGR_ROUTER_SUBSCRIBER_BUFFER_SIZE": "2000"}
# Writes the agent had handed to gRPC towards the killed router and the kernel buffers of its
# sockets: at RATE, well under a second of traffic.
IN_TRANSIT = RATE


class SteadyEmitter:
    """Sends RATE envelopes a second on one BatchSender stream to the agent, on a thread, until
    stopped; ``sent`` counts what the agent accepted (the stream ended OK)."""

    def __init__(self, agent_address: str, files, source_id: str) -> None:
        self._channel = channel(agent_address, files, "metron")
        self._call = self._channel.stream_unary(
            "/loggregator.v2.Ingress/BatchSender",
            request_serializer=envelope_pb2.EnvelopeBatch.SerializeToString,
            response_deserializer=ingress_pb2.BatchSenderResponse.FromString)
        self._source_id = source_id
        self._stop = threading.Event()
        self.yielded = 0
        self.sent = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _batches(self) -> Iterator[envelope_pb2.EnvelopeBatch]:
        start = time.monotonic()
        while not self._stop.is_set():
            ahead = start + self.yielded / RATE - time.monotonic()
            if ahead > 0:
                self._stop.wait(ahead)
            batch = [envelope_pb2.Envelope(source_id=self._source_id, timestamp=self.yielded + i + 1)
                     for i in range(BATCH)]
            for i, env in enumerate(batch):
                env.log.payload = b"seq-%d" % (self.yielded + i)
            yield envelope_pb2.EnvelopeBatch(batch=batch)
            self.yielded += BATCH

    def _run(self) -> None:
        try:
            self._call(self._batches(), timeout=120)
            self.sent = self.yielded
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(30)
        self._channel.close()
        assert self.error is None, self.error
        return self.sent


def kill(component) -> None:
    os.kill(component.child.pid, signal.SIGKILL)
    wait_until(lambda: not component.child.alive(), timeout=10)


def unique_payloads(consumers: list[Consumer]) -> set[bytes]:
    return {p for c in consumers for p in c.payloads()}


def settled(read: Callable[[], object], timeout: float = 30) -> None:
    """Wait until ``read()`` gives the same value twice, 0.5 s apart (the pipeline has drained)."""
    last: list[object] = [object()]

    def same() -> bool:
        now = read()
        was, last[0] = last[0], now
        return now == was

    wait_until(same, timeout=timeout, interval=0.5)


def test_router_killed_under_load_loses_only_what_it_held(make_stack):
    s = make_stack(routers=2, extra_env={"router": ROUTER_BUFFERS})
    consumer = s.consumer([selector("log", "kill-router")])
    agent, rlp = s.metrics(s.agent), s.metrics(s.rlp)
    victim, survivor = s.routers
    emitter = SteadyEmitter(s.agent.address, s.files, "kill-router")
    wait_until(lambda: len(consumer.payloads()) >= RATE // 2, timeout=20)  # flowing through both
    kill(victim)
    time.sleep(1.0)  # load goes on while the agent fails over (the scenario, not a synchronisation)
    sent = emitter.stop()
    settled(lambda: (len(consumer.payloads()), agent.value("egress"), rlp.value("egress")))

    delivered = len(unique_payloads([consumer]))
    counted = (agent.value("dropped", direction="egress") + agent.value("dropped", direction="ingress")
               + rlp.value("dropped", direction="egress")
               + Metrics(survivor.metrics_url, s.files).value("dropped"))
    uncounted = sent - delivered - counted
    held = int(ROUTER_BUFFERS["INGRESS_BUFFER_SIZE"]) + int(ROUTER_BUFFERS["LGR_ROUTER_SUBSCRIBER_BUFFER_SIZE"])
    print(f"router kill: sent {sent} delivered {delivered} counted {counted:.0f} uncounted {uncounted:.0f}")
    assert delivered <= sent
    assert 0 <= uncounted <= held + IN_TRANSIT
    # Delivery goes on through the surviving router.
    assert consumer.error is None


def test_rlp_killed_under_load_loses_only_what_it_held(make_stack, tmp_path):
    s = make_stack(routers=1, extra_env={"router": ROUTER_BUFFERS, "rlp": {"LGR_RLP_BUFFER_SIZE": "2000"}})
    with second_rlp(s, tmp_path) as other:
        sel = [selector("log", "kill-rlp")]
        doomed = s.consumer(sel, shard_id="group")
        survivor = Consumer(other.address, s.files, sel, shard_id="group")
        s.consumers.append(survivor)
        s.wait_subscriptions(timeout=15)  # both rlps' streams are in one shard group on the router
        router = s.metrics(s.routers[0])
        emitter = SteadyEmitter(s.agent.address, s.files, "kill-rlp")
        wait_until(lambda: doomed.payloads() and survivor.payloads(), timeout=20)
        kill(s.rlp)
        time.sleep(1.0)  # load goes on; the shard group now has one member
        sent = emitter.stop()
        settled(lambda: (len(survivor.payloads()), router.value("egress")))

        delivered = len(unique_payloads([doomed, survivor]))
        counted = (router.value("dropped", direction="egress")
                   + s.metrics(s.agent).value("dropped", direction="egress")
                   + Metrics(other.metrics_url, s.files).value("dropped", direction="egress"))
        uncounted = sent - delivered - counted
        print(f"rlp kill: sent {sent} delivered {delivered} counted {counted:.0f} uncounted {uncounted:.0f}")
        assert 0 <= uncounted <= 2000 + IN_TRANSIT  # the dead rlp's buffer, and what was in transit
