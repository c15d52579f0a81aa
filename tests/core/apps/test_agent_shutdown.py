"""An agent stopping with emitter streams open: the streams end at once with UNAVAILABLE and a
message saying why (not a bare INTERNAL after the grace period), new calls are refused the same
way, and what was taken before is still forwarded to the router."""

from __future__ import annotations

import asyncio

import grpc

from lgr.core import envelope as E
from lgr.core._proto.loggregator.v2 import envelope_pb2, ingress_pb2_grpc
from lgr.core.apps.agent.app import SHUTDOWN_MESSAGE, Agent
from tests.conftest import async_wait_until
from tests.core.apps.agent_support import agent_config, client_channel, metric, routers, run

V2 = {"metric_version": "2.0"}


def test_open_streams_end_with_unavailable_and_the_reason_when_the_agent_stops(pki):
    async def scenario():
        async with routers(pki) as (router,):
            agent = Agent(agent_config(pki, router.address))
            await agent.start()
            try:
                async with client_channel(pki, agent.port) as channel:
                    stub = ingress_pb2_grpc.IngressStub(channel)
                    batch_call = stub.BatchSender()
                    single_call = stub.Sender()
                    await batch_call.write(envelope_pb2.EnvelopeBatch(batch=[E.log("before", source_id="s")]))
                    await single_call.write(E.log("single", source_id="s"))
                    await async_wait_until(lambda: metric(agent, "ingress", **V2) == 2)
                    stopping = asyncio.ensure_future(agent.stop(30))  # far longer than it may take
                    for call in (batch_call, single_call):
                        try:
                            await asyncio.wait_for(call, 10)
                        except grpc.aio.AioRpcError as exc:
                            assert exc.code() == grpc.StatusCode.UNAVAILABLE
                            assert exc.details() == SHUTDOWN_MESSAGE
                        else:
                            raise AssertionError("the stream was not ended")
                    await asyncio.wait_for(stopping, 10)  # not the 30 s grace: nothing is open
                # What was taken before the stop reached the router.
                assert sorted(e.log.payload for e in router.envelopes) == [b"before", b"single"]
            finally:
                await agent.stop()

    run(scenario())


def test_a_call_arriving_while_the_agent_drains_is_refused_with_the_reason(pki):
    async def scenario():
        async with routers(pki) as (router,):
            async with Agent(agent_config(pki, router.address)) as agent:
                agent.drain.close()  # as stop() does first
                async with client_channel(pki, agent.port) as channel:
                    stub = ingress_pb2_grpc.IngressStub(channel)
                    try:
                        await stub.Send(envelope_pb2.EnvelopeBatch(batch=[E.log("x", source_id="s")]),
                                        timeout=10)
                    except grpc.aio.AioRpcError as exc:
                        assert exc.code() == grpc.StatusCode.UNAVAILABLE
                        assert "shutting down" in exc.details()
                    else:
                        raise AssertionError("a call was taken while draining")
                assert metric(agent, "ingress", **V2) == 0

    run(scenario())


def test_the_ingress_client_of_lgr_emit_reports_the_agents_reason_and_counts_what_it_lost(pki):
    from lgr.core import tls
    from lgr.core.clients.ingress import IngressClient

    async def scenario():
        async with routers(pki) as (router,):
            agent = Agent(agent_config(pki, router.address))
            await agent.start()
            client = IngressClient(agent.address, tls.client_credentials(*pki.files("client")))
            try:
                await client.connect(5)
                client.emit(E.log("before", source_id="s"))
                await async_wait_until(lambda: client.stats.sent == 1)
                await agent.stop(30)
                for i in range(3):  # the client notices on its next write
                    client.emit(E.log(f"after {i}", source_id="s"))
                await async_wait_until(lambda: client.stats.reconnects >= 1)
                client.emit(E.log("waiting", source_id="s"))
                assert not await client.flush(0.5)  # no agent to take it: bounded, not forever
            finally:
                await client.close(1.0)
                await agent.stop()
            assert "UNAVAILABLE: " + SHUTDOWN_MESSAGE == client.last_error
            assert client.stats.sent == 1 and client.stats.failed == 4
            assert [e.log.payload for e in router.envelopes] == [b"before"]

    run(scenario())
