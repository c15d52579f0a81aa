"""The router's faults over real mTLS gRPC: refused clients, bad messages, stopping."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from lgr.core._proto.loggregator.v2 import egress_pb2
from lgr.core.apps.router.app import Router
from lgr.core.grpc_server import identity
from lgr.core.tls import MAX_MESSAGE_BYTES
from tests.conftest import async_wait_until
from tests.core.apps.firehose_support import (
    Collector,
    channel,
    log_envelope,
    router_and_channel,
    router_config,
    run,
    selectors,
    send,
)


def test_a_client_without_a_ca_signed_certificate_is_refused(pki):
    async def body():
        async with router_and_channel(pki, rogue=True) as (router, rogue):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await send(rogue, [log_envelope(0)])
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
            assert router.ingress_count.value == 0

    run(body())


def test_malformed_and_oversized_messages_end_only_their_stream(pki):
    async def body():
        async with router_and_channel(pki) as (_, ch):
            c = Collector(ch, egress_pb2.EgressBatchRequest(selectors=selectors("log")))
            await c.ready()
            raw = ch.stream_unary("/loggregator.v2.Ingress/BatchSender",
                                  request_serializer=identity, response_deserializer=identity)
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await raw(iter([b"\x0a\xff\xff\xff"]))
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "malformed" in err.value.details()
            big = log_envelope(0, size=MAX_MESSAGE_BYTES)
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await send(ch, [big])
            assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            # The server is still up and still serves its subscriber.
            await send(ch, [log_envelope(1)])
            await async_wait_until(lambda: len(c.envelopes) == 1)

    run(body())


def test_stop_ends_streams_cleanly_and_is_idempotent(pki):
    async def body():
        router = Router(router_config(pki))
        await router.start()
        ch = channel(pki, router.address, "doppler")
        c = Collector(ch, egress_pb2.EgressBatchRequest(selectors=selectors("log")))
        await c.ready()
        await asyncio.gather(router.stop(2), router.stop(2))
        assert await c.status() == grpc.StatusCode.OK
        await router.stop()
        await ch.close()

    run(body())


def test_a_malformed_egress_request_gets_invalid_argument(pki):
    async def body():
        async with router_and_channel(pki) as (router, ch):
            rpc = ch.unary_stream("/loggregator.v2.Egress/BatchedReceiver",
                                  request_serializer=identity, response_deserializer=identity)
            with pytest.raises(grpc.aio.AioRpcError) as err:
                async for _ in rpc(b"\x22\xff"):
                    pass
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "malformed EgressBatchRequest" in err.value.details()
            assert not router.egress.streams

    run(body())
