"""The RLP's checks and faults over real mTLS gRPC: bad requests, limits, router restarts."""

from __future__ import annotations

import grpc
import pytest

from lgr.core._proto.loggregator.v2 import egress_pb2
from lgr.core.apps.rlp.app import Rlp
from lgr.core.apps.router.app import Router
from lgr.core.grpc_server import identity
from tests.conftest import async_wait_until
from tests.core.apps.firehose_support import (
    Collector,
    channel,
    log_envelope,
    rlp_and_consumer,
    rlp_config,
    rlp_stack,
    router_config,
    run,
    selectors,
    send,
    started,
    subscribed,
)


@pytest.mark.parametrize(("request_", "problem"), [
    (egress_pb2.EgressBatchRequest(), "selectors cannot be empty"),
    (egress_pb2.EgressBatchRequest(selectors=[egress_pb2.Selector(source_id="x")]),
     "selector 0 (source_id 'x') has no message type"),
])
def test_invalid_selectors_get_invalid_argument(pki, request_, problem):
    async def body():
        async with rlp_and_consumer(pki, ["127.0.0.1:1"]) as (rlp, consumer):
            c = Collector(consumer, request_)
            assert await c.status() == grpc.StatusCode.INVALID_ARGUMENT
            assert problem in c.error.details()
            assert rlp.m.subscriptions.value == 0

    run(body())


def test_streams_past_max_egress_streams_get_resource_exhausted(pki):
    async def body():
        async with rlp_and_consumer(pki, ["127.0.0.1:1"], max_egress_streams=1) as (rlp, consumer):
            first = Collector(consumer, egress_pb2.EgressBatchRequest(selectors=selectors()))
            await first.ready()
            second = Collector(consumer, egress_pb2.EgressBatchRequest(selectors=selectors()))
            assert await second.status() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "max egress streams reached: 1" in second.error.details()
            assert rlp.m.rejected_streams.value == 1
            await first.cancel()
            await async_wait_until(lambda: not rlp.egress.streams)
            third = Collector(consumer, egress_pb2.EgressBatchRequest(selectors=selectors()))
            await third.ready()

    run(body())


def test_a_consumer_without_a_ca_signed_certificate_is_refused(pki):
    async def body():
        async with rlp_and_consumer(pki, ["127.0.0.1:1"], rogue=True) as (rlp, rogue):
            c = Collector(rogue, egress_pb2.EgressBatchRequest(selectors=selectors()))
            assert await c.status() == grpc.StatusCode.UNAVAILABLE
            assert not rlp.egress.streams

    run(body())


def test_the_rlp_reconnects_to_a_restarted_router_and_keeps_the_others(pki):
    async def body():
        r1, r2 = Router(router_config(pki)), Router(router_config(pki))
        async with started(r2):
            await r1.start()
            port = r1.port
            async with rlp_and_consumer(pki, [r1.address, r2.address]) as (rlp, consumer):
                c = Collector(consumer, egress_pb2.EgressBatchRequest(selectors=selectors("log")))
                await c.ready()
                await subscribed([r1, r2])
                await r1.stop(0.5)
                ch2 = channel(pki, r2.address, "doppler", name="agent")
                await send(ch2, [log_envelope(0, "from-r2")])
                await async_wait_until(lambda: len(c.envelopes) == 1)
                r1 = Router(router_config(pki, port=port))
                async with started(r1):
                    await subscribed([r1])
                    ch1 = channel(pki, r1.address, "doppler", name="agent")
                    await send(ch1, [log_envelope(1, "from-r1")])
                    await async_wait_until(lambda: len(c.envelopes) == 2)
                    assert [e.source_id for e in c.envelopes] == ["from-r2", "from-r1"]
                    assert rlp.m.router_disconnects.value >= 1
                    await ch1.close()
                await ch2.close()

    run(body())


def test_stop_ends_consumer_streams_cleanly(pki):
    async def body():
        router = Router(router_config(pki))
        async with started(router):
            rlp = Rlp(rlp_config(pki, [router.address]))
            await rlp.start()
            consumer = channel(pki, rlp.address, "reverselogproxy")
            c = Collector(consumer, egress_pb2.EgressBatchRequest(selectors=selectors("log")))
            await c.ready()
            await subscribed([router])
            await rlp.stop(2)
            assert await c.status() == grpc.StatusCode.OK
            await subscribed([router], 0)
            await consumer.close()

    run(body())


def test_raw_identity_request_bytes_are_accepted(pki):
    """A request encoded by any client (here: raw bytes) is parsed like the generated stub's."""
    async def body():
        async with rlp_and_consumer(pki, ["127.0.0.1:1"]) as (rlp, consumer):
            rpc = consumer.unary_stream("/loggregator.v2.Egress/BatchedReceiver",
                                        request_serializer=identity,
                                        response_deserializer=identity)
            call = rpc(b"\x22\x02\x12\x00")  # selectors: [{log: {}}]
            await call.initial_metadata()
            await async_wait_until(lambda: len(rlp.egress.streams) == 1)
            call.cancel()

    run(body())


def test_a_malformed_request_gets_invalid_argument_and_the_rlp_serves_on(pki):
    async def body():
        async with rlp_stack(pki) as (router, _, consumer, ch):
            rpc = consumer.unary_stream("/loggregator.v2.Egress/Receiver",
                                        request_serializer=identity,
                                        response_deserializer=identity)
            with pytest.raises(grpc.aio.AioRpcError) as err:
                async for _ in rpc(b"\x22\xff"):
                    pass
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "malformed EgressRequest" in err.value.details()
            c = Collector(consumer, egress_pb2.EgressBatchRequest(selectors=selectors("log")))
            await c.ready()
            await subscribed([router])
            await send(ch, [log_envelope(0)])
            await async_wait_until(lambda: len(c.envelopes) == 1)

    run(body())
