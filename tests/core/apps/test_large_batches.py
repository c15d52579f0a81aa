"""Batches under gRPC's 10 MiB message limit on every hop that joins envelopes (issue 10,
finding 4), over real mTLS gRPC: the agent's router pool, the router's and the RLP's egress, and
lgr's ingress client split a batch of large envelopes into messages that fit, in order, and count
an envelope too large for any message as dropped; the stream carries on."""

from __future__ import annotations

from lgr.core import tls
from lgr.core._proto.loggregator.v2 import egress_pb2, envelope_pb2
from lgr.core.apps.agent.egress import RouterPool
from lgr.core.clients.ingress import IngressClient
from lgr.core.diode import Diode
from lgr.core.metrics import Registry
from lgr.core.tls import MAX_MESSAGE_BYTES
from tests.conftest import async_wait_until
from tests.core.apps import agent_support
from tests.core.apps.agent_support import routers
from tests.core.apps.firehose_support import (
    TIMEOUT,
    Collector,
    router_and_channel,
    rlp_stack,
    run,
    selectors,
    send,
    subscribed,
)

LARGE = 4 * 1024 * 1024


def sized(n: int, tag: str) -> envelope_pb2.Envelope:
    """A log envelope of exactly ``n`` serialized bytes whose payload starts with ``tag``."""
    env = envelope_pb2.Envelope(source_id="app")
    env.log.payload = tag.encode() + b"x" * (n - len(tag))
    env.log.payload = env.log.payload[:len(env.log.payload) - (env.ByteSize() - n)]
    assert env.ByteSize() == n
    return env


def mixed() -> tuple[list[envelope_pb2.Envelope], envelope_pb2.Envelope]:
    """Small and 4 MiB envelopes in an order worth keeping, and one too large for any batch."""
    envs = [sized(100, f"s{i}") for i in range(5)]
    envs += [sized(LARGE, f"L{i}") for i in range(3)]
    envs += [sized(100, f"s{i}") for i in range(5, 10)]
    return envs, sized(MAX_MESSAGE_BYTES - 2, "too-large")


def tags(envs) -> list[bytes]:
    return [env.log.payload.split(b"x", 1)[0] for env in envs]


def test_the_agents_router_pool_splits_a_batch_and_counts_the_unsendable(pki):
    async def scenario():
        envs, too_large = mixed()
        async with routers(pki) as (router,):
            diode: Diode[bytes] = Diode(100)
            # Everything is waiting before the pool starts: its first take holds all of it.
            diode.put_many([e.SerializeToString() for e in envs[:8]] +
                           [too_large.SerializeToString()] +
                           [e.SerializeToString() for e in envs[8:]])
            creds = tls.client_credentials(*pki.files("agent"))
            pool = RouterPool(diode, [("127.0.0.1", router.port)], creds, Registry(), streams=1)
            await pool.start()
            try:
                await async_wait_until(lambda: len(router.envelopes) == len(envs),
                                       timeout=TIMEOUT)
                assert tags(router.envelopes) == tags(envs)
                assert len(router.batches) >= 2  # three 4 MiB envelopes need two messages
                assert pool.dropped.value == 1
                assert pool.egress.value == len(envs)
                assert pool.connected == 1  # the stream never broke
            finally:
                await pool.stop(1.0)

    agent_support.run(scenario())


def test_router_egress_splits_batches_and_counts_the_unsendable(pki):
    async def body():
        envs, too_large = mixed()
        async with router_and_channel(pki) as (router, ch):
            c = Collector(ch, egress_pb2.EgressBatchRequest(selectors=selectors("log")))
            await c.ready()
            (stream,) = router.egress.streams.values()
            stream.diode.put_many([e.SerializeToString() for e in envs[:8]] +
                                  [too_large.SerializeToString()] +
                                  [e.SerializeToString() for e in envs[8:]])
            await async_wait_until(lambda: len(c.envelopes) == len(envs), timeout=TIMEOUT)
            assert tags(c.envelopes) == tags(envs)
            assert c.batches >= 2
            assert router.dropped_egress.value == 1 and stream.dropped == 1
            # The stream is still open and serving.
            await send(ch, [sized(100, "after")])
            await async_wait_until(lambda: len(c.envelopes) == len(envs) + 1, timeout=TIMEOUT)
            assert c.error is None
            await c.cancel()

    run(body())


def test_rlp_egress_splits_batches_for_batched_and_single_receivers(pki):
    async def body():
        envs, too_large = mixed()
        async with rlp_stack(pki) as (router, rlp, consumer, agent):
            batched = Collector(consumer, egress_pb2.EgressBatchRequest(
                selectors=selectors("log"), use_preferred_tags=True))
            single = Collector(consumer, egress_pb2.EgressRequest(
                selectors=selectors("log"), use_preferred_tags=True), "Receiver")
            await batched.ready()
            await single.ready()
            await subscribed([router], 2)
            data = ([e.SerializeToString() for e in envs[:8]] + [too_large.SerializeToString()]
                    + [e.SerializeToString() for e in envs[8:]])
            for stream in rlp.egress.streams.values():
                stream.diode.put_many(data)
            await async_wait_until(lambda: len(batched.envelopes) == len(envs), timeout=TIMEOUT)
            # Receiver sends one envelope per message: only the too-large one cannot go.
            await async_wait_until(lambda: len(single.envelopes) == len(envs) + 1,
                                   timeout=TIMEOUT)
            assert tags(batched.envelopes) == tags(envs)
            assert batched.batches >= 2
            assert rlp.m.dropped_egress.value == 1
            # Through the router too: large envelopes sent one per message all arrive.
            await send(agent, envs, batch_size=1)
            await async_wait_until(lambda: len(batched.envelopes) == 2 * len(envs),
                                   timeout=TIMEOUT)
            assert tags(batched.envelopes[len(envs):]) == tags(envs)
            assert batched.error is None and single.error is None
            await batched.cancel()
            await single.cancel()

    run(body())


def test_the_ingress_client_splits_batches_and_reports_the_unsendable(pki):
    async def scenario():
        envs, too_large = mixed()
        async with routers(pki) as (router,):
            creds = tls.client_credentials(*pki.files("agent"))
            # The recording router serves Ingress as an agent does.
            client = IngressClient(router.address, creds, server_name="doppler")
            async with client:
                client.emit_many(envs[:8] + [too_large] + envs[8:])
                assert await client.flush(TIMEOUT)
            assert tags(router.envelopes) == tags(envs)
            assert client.stats.sent == len(envs) and client.stats.failed == 1
            assert "message limit" in (client.last_error or "")

    agent_support.run(scenario())
