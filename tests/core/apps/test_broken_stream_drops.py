"""A consumer that stops reading and then disconnects leaves envelopes behind in the router's or
the rlp's buffer: they are counted as dropped egress, so every envelope in is either sent or
counted (ingress == egress + dropped{direction="egress"} for one subscriber)."""

from __future__ import annotations

import asyncio

import grpc

from lgr.core._proto.loggregator.v2 import egress_pb2, envelope_pb2
from tests.conftest import async_wait_until
from tests.core.apps.firehose_support import (
    TIMEOUT,
    log_envelope,
    rlp_stack,
    router_and_channel,
    run,
    selectors,
    send,
)

COUNT = 120
SIZE = 100_000  # 12 MB in all: more than gRPC's flow-control windows let through unread


def stalled(ch: grpc.aio.Channel) -> grpc.aio.UnaryStreamCall:
    """A BatchedReceiver call whose responses are never read."""
    rpc = ch.unary_stream("/loggregator.v2.Egress/BatchedReceiver",
                          request_serializer=lambda r: r.SerializeToString(),
                          response_deserializer=envelope_pb2.EnvelopeBatch.FromString)
    return rpc(egress_pb2.EgressBatchRequest(selectors=selectors("log")))


def test_a_router_subscriber_that_leaves_with_a_full_buffer_is_counted(pki):
    async def body():
        async with router_and_channel(pki) as (router, ch):
            call = stalled(ch)
            await asyncio.wait_for(call.initial_metadata(), TIMEOUT)
            await send(ch, [log_envelope(i, size=SIZE) for i in range(COUNT)], batch_size=10)
            await async_wait_until(lambda: router.ingress_count.value == COUNT, timeout=TIMEOUT)
            stream = next(iter(router.egress.streams.values()))
            await async_wait_until(lambda: len(stream.diode) > 0, timeout=TIMEOUT)
            call.cancel()
            await async_wait_until(lambda: not router.egress.streams, timeout=TIMEOUT)
            dropped = router.dropped_egress.value
            assert dropped > 0
            assert router.egress_count.value + dropped == COUNT

    run(body())


def test_an_rlp_consumer_that_leaves_with_a_full_buffer_is_counted(pki):
    async def body():
        async with rlp_stack(pki) as stack:
            call = stalled(stack.consumer)
            await asyncio.wait_for(call.initial_metadata(), TIMEOUT)
            await async_wait_until(lambda: len(stack.router.egress.streams) == 1, timeout=TIMEOUT)
            await send(stack.agent, [log_envelope(i, size=SIZE) for i in range(COUNT)], batch_size=10)
            m = stack.rlp.m
            await async_wait_until(lambda: m.ingress.value == COUNT, timeout=TIMEOUT)
            stream = next(iter(stack.rlp.egress.streams.values()))
            await async_wait_until(lambda: len(stream.diode) > 0, timeout=TIMEOUT)
            call.cancel()
            await async_wait_until(lambda: not stack.rlp.egress.streams, timeout=TIMEOUT)
            assert m.dropped_egress.value > 0
            assert m.egress.value + m.dropped_egress.value == COUNT

    run(body())
