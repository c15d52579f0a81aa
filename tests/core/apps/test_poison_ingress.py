"""Issue 10, finding 1, ingress side: the router and the agent refuse a batch holding an envelope
that Go's protobuf would refuse (invalid UTF-8 in a string field) with INVALID_ARGUMENT naming it,
count its envelopes in ``malformed``, and go on serving every other stream."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from lgr.core import envelope as E
from lgr.core._proto.loggregator.v2 import egress_pb2
from lgr.core.apps.agent.app import Agent
from lgr.core.apps.router.app import Router
from lgr.core.grpc_server import identity
from tests.conftest import async_wait_until
from tests.core.apps.agent_support import agent_config, metric, routers
from tests.core.apps.firehose_support import TIMEOUT, channel, router_config, run, send, started
from tests.poison import POISON_FIELDS, poison_tag_envelope, poisoned


def mixed(n_good: int = 3) -> bytes:
    good = [E.log(f"good {i}", source_id="app").SerializeToString() for i in range(n_good)]
    return E.join_batch([good[0], poison_tag_envelope(), *good[1:]])


async def refused(ch: grpc.aio.Channel, method: str, *messages: bytes) -> grpc.aio.AioRpcError:
    call = ch.stream_unary(f"/loggregator.v2.Ingress/{method}", request_serializer=identity,
                           response_deserializer=identity)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await asyncio.wait_for(call(iter(messages)), TIMEOUT)
    return err.value


def test_the_router_refuses_the_poison_batch_counts_it_and_serves_on(pki):
    async def body():
        router = Router(router_config(pki))
        async with started(router), channel(pki, router.address, "doppler", name="agent") as ch:
            err = await refused(ch, "BatchSender", mixed())
            assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "envelope 2 of 4 (source_id 'poison'): tags['k'] value is not valid UTF-8" \
                in err.details()
            assert router.malformed.value == 4  # the whole message is refused, as upstream
            assert router.ingress_count.value == 0
            # Every string field, through Sender (one envelope a message) too.
            for n, make in enumerate(POISON_FIELDS.values(), start=1):
                err = await refused(ch, "Sender", poisoned(make()))
                assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
                assert router.malformed.value == 4 + n
            await send(ch, [E.log("fine", source_id="app")])
            await async_wait_until(lambda: router.ingress_count.value == 1, timeout=TIMEOUT)
            assert "malformed 16" in router.metrics.render_prometheus()

    run(body())


def test_nothing_of_a_refused_batch_reaches_a_subscriber(pki):
    async def body():
        router = Router(router_config(pki))
        async with started(router), channel(pki, router.address, "doppler", name="agent") as ch, \
                channel(pki, router.address, "doppler", name="rlp") as egress:
            request = egress_pb2.EgressBatchRequest(selectors=[egress_pb2.Selector(log={})])
            stream = egress.unary_stream("/loggregator.v2.Egress/BatchedReceiver",
                                         request_serializer=egress_pb2.EgressBatchRequest.SerializeToString,
                                         response_deserializer=identity)(request)
            await async_wait_until(lambda: len(router.egress.streams) == 1, timeout=TIMEOUT)
            await refused(ch, "BatchSender", mixed())
            await send(ch, [E.log("after", source_id="app")])
            first = await asyncio.wait_for(stream.read(), TIMEOUT)
            got = [E.Envelope.FromString(data) for data in E.split_batch(first)]
            assert [env.log.payload for env in got] == [b"after"]
            stream.cancel()

    run(body())


def test_the_agent_refuses_the_poison_batch_and_counts_it(pki):
    async def body():
        async with routers(pki) as (router,), Agent(agent_config(pki, router.address)) as agent, \
                channel(pki, f"127.0.0.1:{agent.port}", "metron") as ch:
            err = await refused(ch, "BatchSender", mixed())
            assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "tags['k'] value is not valid UTF-8" in err.details()
            assert metric(agent, "malformed", metric_version="2.0") == 4
            err = await refused(ch, "Sender", poison_tag_envelope())
            assert "tags['k'] value is not valid UTF-8" in err.details()
            assert metric(agent, "malformed", metric_version="2.0") == 5
            await send(ch, [E.log("fine", source_id="app")])
            await async_wait_until(lambda: len(router.envelopes) == 1, timeout=TIMEOUT)

    run(body())
