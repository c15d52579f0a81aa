"""RLP stream slots under faults: consumers that stall, then disconnect, give back their slot,
their router subscriptions and their buffer (issue 10, finding 2)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import weakref

import grpc

from lgr.core._proto.loggregator.v2 import egress_pb2
from tests.conftest import async_wait_until
from tests.core.apps.firehose_support import (
    TIMEOUT,
    Collector,
    channel,
    log_envelope,
    rlp_stack,
    run,
    selectors,
    send,
    subscribed,
)

SLOTS = 6


@contextlib.asynccontextmanager
async def load(agent: grpc.aio.Channel, size: int = 20_000):
    """Send batches of ``size``-byte logs to the router until the block ends."""
    stop = asyncio.Event()

    async def run_load() -> None:
        i = 0
        while not stop.is_set():
            await send(agent, [log_envelope(i + n, size=size) for n in range(50)])
            i += 50
            await asyncio.sleep(0)

    task = asyncio.ensure_future(run_load())
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, TIMEOUT)


async def stalled_consumer(pki, rlp) -> tuple[grpc.aio.Channel, grpc.aio.UnaryStreamCall]:
    """A consumer on its own connection that opens BatchedReceiver and never reads."""
    ch = channel(pki, rlp.address, "reverselogproxy")
    call = ch.unary_stream("/loggregator.v2.Egress/BatchedReceiver",
                           request_serializer=lambda r: r.SerializeToString(),
                           response_deserializer=lambda b: b)(
        egress_pb2.EgressBatchRequest(selectors=selectors("log")))
    await asyncio.wait_for(call.initial_metadata(), TIMEOUT)
    return ch, call


def test_stalled_consumers_that_disconnect_free_slots_subscriptions_and_buffers(pki):
    async def body():
        async with rlp_stack(pki, max_egress_streams=SLOTS) as (router, rlp, _, agent):
            async with load(agent):
                stalled = [await stalled_consumer(pki, rlp) for _ in range(SLOTS)]
                await subscribed([router], SLOTS)
                streams = [weakref.ref(s) for s in rlp.egress.streams.values()]
                # Every stalled consumer's buffer fills: the RLP drops for it.
                await async_wait_until(
                    lambda: all(len(s().diode) == s().diode.size or s().dropped
                                for s in streams), timeout=TIMEOUT)
                for ch, call in stalled:
                    call.cancel()
                    await ch.close()
                await async_wait_until(lambda: rlp.m.subscriptions.value == 0, timeout=TIMEOUT)
                assert not rlp.egress.streams
                await subscribed([router], 0)

                def freed() -> bool:
                    gc.collect()
                    return all(ref() is None for ref in streams)

                await async_wait_until(freed, timeout=TIMEOUT)
            # Every slot is usable again: MAX_EGRESS_STREAMS consumers all get data.
            consumers = [channel(pki, rlp.address, "reverselogproxy") for _ in range(SLOTS)]
            readers = [Collector(ch, egress_pb2.EgressBatchRequest(
                selectors=selectors("log", source_id="after"))) for ch in consumers]
            for reader in readers:
                await reader.ready()
            await subscribed([router], SLOTS)
            await send(agent, [log_envelope(0, source_id="after")])
            await async_wait_until(lambda: all(r.envelopes for r in readers), timeout=TIMEOUT)
            assert rlp.m.rejected_streams.value == 0
            for reader, ch in zip(readers, consumers):
                await reader.cancel()
                await ch.close()

    run(body(), timeout=90)
