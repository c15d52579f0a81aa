"""Large legal envelopes end to end (issue 10, finding 4): 6 MB envelopes among small logs
cross agent → router → rlp → consumer, every batch split under the 10 MiB message limit, and an
envelope too large for any batch is counted as dropped instead of breaking a stream."""

from __future__ import annotations

import grpc
import pytest

from lgr.core import envelope
from lgr.core._proto.loggregator.v2 import envelope_pb2, ingress_pb2
from lgr.core.tls import MAX_MESSAGE_BYTES
from tests.conftest import wait_until
from tests.e2e.conftest import E2EStack
from tests.e2e.helpers import channel, selector

pytestmark = pytest.mark.e2e

LARGE = 6 * 1024 * 1024
SMALL = 2000


def _size_exactly(n: int, seq: str, source_id: str) -> envelope_pb2.Envelope:
    """A log envelope whose serialized size is exactly ``n`` bytes."""
    env = envelope.log(b"", source_id=source_id)
    env.log.payload = seq.encode() + b"x" * (n - len(seq))
    over = env.ByteSize() - n  # the payload's length prefix grew with it
    env.log.payload = env.log.payload[:len(env.log.payload) - over]
    assert env.ByteSize() == n
    return env


def test_6mb_envelopes_among_small_ones_all_arrive_and_the_unsendable_one_is_counted(
        make_stack) -> None:
    # The small logs behind the large ones pile up while a 6 MB message is written: buffers
    # large enough to hold them all, so this test sees only what the message limit does.
    s: E2EStack = make_stack(extra_env={"router": {"LGR_ROUTER_SUBSCRIBER_BUFFER_SIZE": "10000"}})
    src = "large-app"
    consumer = s.consumer([selector("log", src)])
    agent, rlp = s.metrics(s.agent), s.metrics(s.rlp)
    disconnects = rlp.value("log_router_disconnects")
    # Five 6 MB envelopes back to back (the agent takes them as one 30 MB batch), small logs
    # before, between and after them.
    smalls = [envelope.log(f"small-{i}", source_id=src) for i in range(SMALL)]
    larges = [_size_exactly(LARGE, f"large-{i}", src) for i in range(5)]
    batches = [smalls[i:i + 100] for i in range(0, 1000, 100)]
    batches += [[env] for env in larges]
    batches += [smalls[i:i + 100] for i in range(1000, SMALL, 100)]
    emitter = s.emitter()
    emitter.send_batches(batches, timeout=60)
    # One envelope as large as an agent accepts alone (Sender) but too large for any batch.
    too_large = _size_exactly(MAX_MESSAGE_BYTES - 2, "too-large", src)
    ch = channel(s.agent.address, s.files, "metron")
    try:
        sender = ch.stream_unary("/loggregator.v2.Ingress/Sender",
                                 request_serializer=envelope_pb2.Envelope.SerializeToString,
                                 response_deserializer=ingress_pb2.IngressResponse.FromString)
        sender(iter([too_large]), timeout=30)
    finally:
        ch.close()
    emitter.send([envelope.log("last", source_id=src)])

    def payloads() -> list[bytes]:
        return [p[:16] for p in consumer.payloads(src)]

    def arrived() -> bool:
        # The agent's five router streams run side by side: "last" may overtake a 6 MB batch.
        got = payloads()
        return b"last" in got and len(got) == SMALL + 5 + 1

    wait_until(arrived, timeout=60, interval=0.1)
    got = payloads()
    assert sorted(p for p in got if p.startswith(b"large-")) == [
        f"large-{i}".encode() + b"x" * (16 - 7) for i in range(5)]
    assert sum(1 for p in got if p.startswith(b"small-")) == SMALL
    assert consumer.error is None
    assert agent.value("dropped", direction="egress") == 1
    assert rlp.value("dropped", direction="egress") == 0
    assert rlp.value("log_router_disconnects") == disconnects  # no stream broke
    assert s.stack.first_dead() is None
