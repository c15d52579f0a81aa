"""The agent over real mTLS gRPC: each Ingress method, tagging, egress to routers, faults, metrics."""

from __future__ import annotations

import asyncio
import ssl

import grpc
import pytest

from lgr.core import envelope as E
from lgr.core import tls
from lgr.core._proto.loggregator.v2 import envelope_pb2, ingress_pb2_grpc
from lgr.core.apps.agent.app import Agent
from tests.conftest import async_wait_until
from tests.core.apps.agent_support import (
    RecordingRouter,
    agent_config,
    client_channel,
    metric,
    routers,
    run,
)

V2 = {"metric_version": "2.0"}
FAST = (0.02, 0.2)  # reconnect backoff for tests


async def send_batches(port: int, pki, batches: list[list[envelope_pb2.Envelope]]) -> None:
    async with client_channel(pki, port) as channel:
        call = ingress_pb2_grpc.IngressStub(channel).BatchSender()
        for batch in batches:
            await call.write(envelope_pb2.EnvelopeBatch(batch=batch))
        await call.done_writing()
        await asyncio.wait_for(call, 5)


def test_batch_sender_forwards_tagged_envelopes_and_counts_them(pki):
    async def scenario():
        async with routers(pki) as (router,):
            cfg = agent_config(pki, router.address, AGENT_TAGS="deployment:cf,az:z1")
            async with Agent(cfg) as agent:
                await send_batches(agent.port, pki, [
                    [E.log("hello", source_id="app-1", tags={"deployment": "mine"})],
                    [E.gauge({"cpu": (1.5, "percentage")}, tags={"origin": "rep"}),
                     E.event("t", "b", source_id="x")],
                ])
                await async_wait_until(lambda: len(router.envelopes) == 3)
                by_kind = {E.kind_of(env): env for env in router.envelopes}
                log_env = by_kind["log"]
                assert log_env.source_id == "app-1"
                assert log_env.log.payload == b"hello"
                # AGENT_TAGS are added only where the envelope lacks the key.
                assert dict(log_env.tags) == {"deployment": "mine", "az": "z1"}
                gauge = by_kind["gauge"]
                assert gauge.source_id == "rep"
                assert gauge.gauge.metrics["cpu"].value == 1.5
                assert dict(gauge.tags) == {"origin": "rep", "deployment": "cf", "az": "z1"}
                assert metric(agent, "ingress", **V2) == 3
                assert metric(agent, "origin_mappings", **V2) == 1
                await async_wait_until(lambda: metric(agent, "egress", **V2) == 3)
                assert metric(agent, "dropped", direction="egress", **V2) == 0

    run(scenario())


def test_sender_stream_and_unary_send_are_served(pki):
    async def scenario():
        async with routers(pki) as (router,), Agent(agent_config(pki, router.address)) as agent:
            async with client_channel(pki, agent.port) as channel:
                stub = ingress_pb2_grpc.IngressStub(channel)

                async def envelopes():
                    for i in range(3):
                        yield E.log(f"stream {i}", source_id="s")

                await asyncio.wait_for(stub.Sender(envelopes()), 5)
                await asyncio.wait_for(
                    stub.Send(envelope_pb2.EnvelopeBatch(batch=[E.log("unary", source_id="u")])), 5
                )
            await async_wait_until(lambda: len(router.envelopes) == 4)
            payloads = sorted(env.log.payload for env in router.envelopes)
            assert payloads == [b"stream 0", b"stream 1", b"stream 2", b"unary"]
            assert metric(agent, "ingress", **V2) == 4

    run(scenario())


def test_source_id_comes_from_origin_tag_then_deprecated_tag(pki):
    async def scenario():
        async with routers(pki) as (router,), Agent(agent_config(pki, router.address)) as agent:
            deprecated = E.log("d")
            deprecated.deprecated_tags["origin"].text = "old-origin"
            deprecated.deprecated_tags["count"].integer = 7
            deprecated.deprecated_tags["ratio"].decimal = 0.25
            await send_batches(agent.port, pki, [[
                E.log("a", tags={"origin": "new-origin"}),
                deprecated,
                E.log("kept", source_id="explicit", tags={"origin": "ignored"}),
                E.log("none"),
            ]])
            await async_wait_until(lambda: len(router.envelopes) == 4)
            got = {env.log.payload: env for env in router.envelopes}
            assert got[b"a"].source_id == "new-origin"
            assert got[b"d"].source_id == "old-origin"
            # Deprecated tags are copied into tags, formatted as upstream's tagger does.
            assert dict(got[b"d"].tags) == {"origin": "old-origin", "count": "7", "ratio": "0.25"}
            assert got[b"kept"].source_id == "explicit"
            assert got[b"none"].source_id == ""
            assert metric(agent, "origin_mappings", **V2) == 2

    run(scenario())


def test_counter_totals_accumulate_per_name_source_and_tags(pki):
    async def scenario():
        async with routers(pki) as (router,), Agent(agent_config(pki, router.address)) as agent:
            await send_batches(agent.port, pki, [
                [E.counter("requests", delta=2, source_id="a")],
                [E.counter("requests", delta=3, source_id="a")],
                [E.counter("requests", delta=5, source_id="b")],
                [E.counter("requests", delta=1, source_id="a", tags={"route": "/x"})],
                [E.counter("requests", total=100, source_id="a")],
                [E.counter("requests", delta=4, source_id="a")],
            ])
            await async_wait_until(lambda: len(router.envelopes) == 6)
            # Totals are kept in arrival order at the agent; batches may reach the router in any
            # order over its several streams.
            totals = sorted(
                (env.source_id, sorted(env.tags.items()), env.counter.total) for env in router.envelopes
            )
            assert totals == [
                ("a", [], 2), ("a", [], 5), ("a", [], 100), ("a", [], 104),
                ("a", [("route", "/x")], 1), ("b", [], 5),
            ]

    run(scenario())


def test_logs_disabled_drops_logs_and_forwards_the_rest(pki):
    async def scenario():
        async with routers(pki) as (router,):
            async with Agent(agent_config(pki, router.address, LOGS_DISABLED="true")) as agent:
                await send_batches(agent.port, pki, [[
                    E.log("dropped", source_id="s"), E.counter("c", delta=1, source_id="s"),
                ]])
                await async_wait_until(lambda: len(router.envelopes) == 1)
                assert E.kind_of(router.envelopes[0]) == "counter"
                assert metric(agent, "ingress", **V2) == 2

    run(scenario())


def test_a_client_without_a_ca_signed_certificate_is_refused(pki):
    async def scenario():
        async with routers(pki) as (router,), Agent(agent_config(pki, router.address)) as agent:
            rogue = pki.rogue
            creds = tls.client_credentials(rogue.ca, rogue.cert("client"), rogue.key("client"))
            options = tls.channel_options(tls.AGENT_SERVER_NAME)
            async with grpc.aio.secure_channel(f"127.0.0.1:{agent.port}", creds, options=options) as ch:
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await ingress_pb2_grpc.IngressStub(ch).Send(
                        envelope_pb2.EnvelopeBatch(batch=[E.log("x")]), timeout=5
                    )
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
            assert metric(agent, "ingress", **V2) == 0

    run(scenario())


def test_two_routers_both_receive(pki):
    async def scenario():
        async with routers(pki, 2) as (one, two):
            cfg = agent_config(pki, f"{one.address},{two.address}")
            async with Agent(cfg) as agent:
                await async_wait_until(lambda: agent.pool.connected == cfg.egress_streams)
                for i in range(20):
                    await send_batches(agent.port, pki, [[E.log(str(i), source_id="s")]])
                await async_wait_until(lambda: len(one.envelopes) + len(two.envelopes) == 20)
                assert one.envelopes and two.envelopes

    run(scenario())


def test_router_down_counts_egress_drops_then_reconnects_when_it_returns(pki):
    async def scenario():
        router = await RecordingRouter(pki).start()
        port = router.port
        await router.stop()
        async with Agent(agent_config(pki, router.address), egress_backoff=FAST) as agent:
            await send_batches(agent.port, pki, [[E.log("lost", source_id="s")] * 10])
            await async_wait_until(lambda: metric(agent, "dropped", direction="egress", **V2) == 10)
            assert metric(agent, "egress", **V2) == 0

            router = await RecordingRouter(pki, port=port).start()
            try:
                await async_wait_until(lambda: agent.pool.connected > 0)

                # Send until delivery resumes: the first stream may still be settling.
                async def delivered() -> bool:
                    await send_batches(agent.port, pki, [[E.log("back", source_id="s")]])
                    await asyncio.sleep(0.05)
                    return bool(router.envelopes)

                for _ in range(100):
                    if await delivered():
                        break
                assert router.envelopes[0].log.payload == b"back"
                assert metric(agent, "egress", **V2) >= 1
            finally:
                await router.stop()

    run(scenario())


def test_a_restarted_router_gets_the_streams_back(pki):
    async def scenario():
        router = await RecordingRouter(pki).start()
        cfg = agent_config(pki, router.address)
        async with Agent(cfg, egress_backoff=FAST) as agent:
            await async_wait_until(lambda: agent.pool.connected == cfg.egress_streams)
            await router.stop()
            await async_wait_until(lambda: agent.pool.connected == 0)
            router = await RecordingRouter(pki, port=router.port).start()
            try:
                await async_wait_until(lambda: agent.pool.connected == cfg.egress_streams)
                await send_batches(agent.port, pki, [[E.log("again", source_id="s")]])
                await async_wait_until(lambda: len(router.envelopes) == 1)
            finally:
                await router.stop()

    run(scenario())


def test_ingress_diode_overflow_drops_the_oldest_and_counts_them(pki):
    async def scenario():
        router = await RecordingRouter(pki).start()
        await router.stop()  # nothing drains the diode but the dispatcher's drop of whole batches
        cfg = agent_config(pki, router.address, LGR_AGENT_INGRESS_BUFFER_SIZE="10")
        async with Agent(cfg) as agent:
            await send_batches(agent.port, pki, [[E.log(str(i), source_id="s") for i in range(100)]])
            assert metric(agent, "dropped", direction="ingress", **V2) == 90
            await async_wait_until(lambda: metric(agent, "dropped", direction="egress", **V2) == 10)

    run(scenario())


def test_the_ingress_byte_bound_drops_the_oldest_large_envelopes_and_counts_them(pki):
    async def scenario():
        router = await RecordingRouter(pki).start()
        await router.stop()
        cfg = agent_config(pki, router.address, LGR_AGENT_INGRESS_BUFFER_BYTES="2MiB")
        assert cfg.ingress_buffer_bytes == 2 * 1024 * 1024
        async with Agent(cfg) as agent:
            big = [E.log(f"{i}".ljust(400_000, "x"), source_id="s") for i in range(10)]
            await send_batches(agent.port, pki, [big])
            # 2 MiB holds five envelopes of ~400 kB: the five oldest are dropped at once.
            assert metric(agent, "dropped", direction="ingress", **V2) == 5
            assert agent.diode.bytes <= 2 * 1024 * 1024

    run(scenario())


def test_own_metrics_are_emitted_as_envelopes(pki):
    async def scenario():
        async with routers(pki) as (router,):
            cfg = agent_config(pki, router.address, AGENT_METRIC_BATCH_INTERVAL_MILLISECONDS="50",
                               AGENT_INDEX="3", AGENT_TAGS="deployment:cf")
            async with Agent(cfg):
                await async_wait_until(lambda: any(
                    env.counter.name == "ingress" for env in router.envelopes
                ))
                env = next(env for env in router.envelopes if env.counter.name == "ingress")
                assert env.source_id == "metron"
                assert env.instance_id == "3"
                assert env.tags["deployment"] == "cf"
                assert env.tags["metric_version"] in ("1.0", "2.0")

    run(scenario())


async def https_get(port: int, context: ssl.SSLContext) -> str:
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname="metron"), 5
    )
    writer.write(b"GET /metrics HTTP/1.1\r\nHost: agent\r\n\r\n")
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return data.decode()


def test_metrics_endpoint_needs_a_client_certificate(pki):
    async def scenario():
        async with routers(pki) as (router,), Agent(agent_config(pki, router.address)) as agent:
            await send_batches(agent.port, pki, [[E.log("m", tags={"origin": "o"})]])
            await async_wait_until(lambda: metric(agent, "egress", **V2) == 1)
            port = agent.metrics_server.port
            body = await https_get(port, tls.client_ssl_context(*pki.files("client")))
            assert body.startswith("HTTP/1.1 200")
            for line in ('ingress{metric_version="2.0"} 1', 'egress{metric_version="2.0"} 1',
                         'dropped{direction="ingress",metric_version="2.0"} 0',
                         'dropped{direction="egress",metric_version="2.0"} 0',
                         'origin_mappings{metric_version="2.0"} 1'):
                assert line in body
            no_cert = ssl.create_default_context(cafile=str(pki.ca))
            with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)):
                text = await https_get(port, no_cert)
                # TLS 1.3 reports the refusal on the first read, which may come back empty.
                if not text:
                    raise ConnectionError("closed without a response")

    run(scenario())


def test_stop_sends_what_is_buffered_and_is_idempotent(pki):
    async def scenario():
        async with routers(pki) as (router,):
            agent = Agent(agent_config(pki, router.address))
            await agent.start()
            await async_wait_until(lambda: agent.pool.connected > 0)
            agent.diode.put_many([E.log(str(i), source_id="s").SerializeToString() for i in range(500)])
            await agent.stop(grace=5)
            await agent.stop()
            assert len(router.envelopes) == 500

    run(scenario())


def test_malformed_and_oversized_messages_are_refused_and_the_server_goes_on(pki):
    async def scenario():
        async with routers(pki) as (router,), Agent(agent_config(pki, router.address)) as agent:
            creds = tls.client_credentials(*pki.files("client"))
            # No client-side size limit, so the oversized message reaches the agent.
            options = [("grpc.ssl_target_name_override", tls.AGENT_SERVER_NAME),
                       ("grpc.max_send_message_length", -1)]
            async with grpc.aio.secure_channel(f"127.0.0.1:{agent.port}", creds, options=options) as ch:
                send = ch.unary_unary("/loggregator.v2.Ingress/Send")
                with pytest.raises(grpc.aio.AioRpcError) as bad:
                    await send(b"\xff\xff\xff", timeout=5)
                assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
                assert "malformed envelope batch" in bad.value.details()
                assert metric(agent, "malformed", metric_version="2.0") == 1
                batch = envelope_pb2.EnvelopeBatch(batch=[E.log(b"x" * (11 << 20))])
                with pytest.raises(grpc.aio.AioRpcError) as big:
                    await send(batch.SerializeToString(), timeout=10)
                assert big.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            await send_batches(agent.port, pki, [[E.log("fine", source_id="s")]])
            await async_wait_until(lambda: len(router.envelopes) == 1)

    run(scenario())


def test_routers_in_the_agents_zone_are_preferred_and_others_back_them_up(pki):
    async def scenario():
        async with routers(pki, 2) as (near, far):
            cfg = agent_config(pki, far.address, ROUTER_ADDR_WITH_AZ=near.address)
            async with Agent(cfg, egress_backoff=FAST) as agent:
                await async_wait_until(lambda: agent.pool.connected == cfg.egress_streams)
                for i in range(10):
                    await send_batches(agent.port, pki, [[E.log(str(i), source_id="s")]])
                await async_wait_until(lambda: len(near.envelopes) == 10)
                assert far.envelopes == []

                await near.stop()
                far_address = ("127.0.0.1", far.port)
                await async_wait_until(
                    lambda: agent.pool.connected_to() == [far_address] * cfg.egress_streams, timeout=10
                )
                await send_batches(agent.port, pki, [[E.log("failover", source_id="s")]])
                await async_wait_until(lambda: len(far.envelopes) == 1)

    run(scenario())
