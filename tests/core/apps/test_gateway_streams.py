"""The gateway's streams under faults and limits, over real HTTPS in front of a real RLP and
router: slow clients that leave free their RLP streams (issue 10, finding 2); streams are capped
in all and per token, and an RLP without a free slot is a 503, not an empty 200 (finding 7)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl

from lgr.core._proto.loggregator.v2 import egress_pb2
from lgr.core.apps.gateway.limits import StreamLimits
from lgr.core.auth import tokens
from tests.conftest import async_wait_until
from tests.core.apps.firehose_support import (
    TIMEOUT,
    Collector,
    channel,
    log_envelope,
    run,
    selectors,
    send,
)
from tests.core.apps.gateway_support import gateway_stack, sse

CLIENTS = 20


async def raw_sse(stack, pki, token: str, query: str = "log"):
    """Open /v2/read on a raw TLS socket and read only the response head; the caller decides
    whether to read on (a slow client: it never does)."""
    ctx = ssl.create_default_context(cafile=str(pki.ca))
    reader, writer = await asyncio.wait_for(asyncio.open_connection(
        "127.0.0.1", stack.gateway.port, ssl=ctx, server_hostname="127.0.0.1"), TIMEOUT)
    writer.write(f"GET /v2/read?{query} HTTP/1.1\r\nHost: gw\r\n"
                 f"Authorization: Bearer {token}\r\n\r\n".encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    return head, reader, writer


def test_slow_sse_clients_that_disconnect_free_their_rlp_streams(pki, tmp_path):
    async def body():
        async with gateway_stack(pki, tmp_path, max_streams=CLIENTS) as stack:
            rlp = stack.rlp
            agent = channel(pki, stack.router.address, "doppler", name="agent")
            clients = []
            for _ in range(CLIENTS):
                head, reader, writer = await raw_sse(stack, pki, stack.tokens.admin)
                assert head.startswith(b"HTTP/1.1 200"), head
                clients.append((reader, writer))
            await stack.subscribed(CLIENTS)
            # Load until every client is stalled: the RLP drops for them.
            i = 0
            while rlp.m.dropped_egress.value == 0 or stack.gateway.m.ingress.value == 0:
                await send(agent, [log_envelope(i + n, size=20_000) for n in range(100)])
                i += 100
            for _, writer in clients:
                writer.transport.abort()
            await async_wait_until(lambda: rlp.m.subscriptions.value == 0, timeout=TIMEOUT)
            await stack.subscribed(0)
            await async_wait_until(lambda: stack.gateway.m.streams.value == 0, timeout=TIMEOUT)
            assert stack.gateway.reader.limits.open == 0
            # Every slot is back: as many clients again all get data.
            async with contextlib.AsyncExitStack() as readers:
                streams = [await readers.enter_async_context(
                    sse(stack, {"log": "", "source_id": "again"}, stack.tokens.admin))
                    for _ in range(CLIENTS)]
                await stack.subscribed(CLIENTS)
                await send(agent, [log_envelope(0, source_id="again")])
                await async_wait_until(lambda: all(s.envelopes() for s in streams),
                                       timeout=TIMEOUT)
            await agent.close()

    run(body(), timeout=120)


def test_streams_past_the_caps_get_429_and_are_counted(pki, tmp_path):
    async def body():
        async with gateway_stack(pki, tmp_path, max_streams=3,
                                 max_streams_per_token=2) as stack:
            m = stack.gateway.m
            other, _ = tokens.mint(stack.tokens.path, "other", admin=True)
            async with sse(stack, {"log": ""}, stack.tokens.admin), \
                    sse(stack, {"log": ""}, stack.tokens.admin):
                r = await stack.client.get(stack.url, params={"log": ""},
                                           headers={"Authorization": f"bearer {stack.tokens.admin}"})
                assert r.status_code == 429
                assert r.headers["content-type"] == "text/plain; charset=utf-8"
                assert json.loads(r.content) == {
                    "message": "stream limit reached: at most 2 streams per token",
                    "error": "too_many_streams_for_token"}
                assert m.rejected_streams["max_streams_per_token"].value == 1
                async with sse(stack, {"log": ""}, other):
                    r = await stack.client.get(stack.url, params={"log": ""},
                                               headers={"Authorization": f"bearer {other}"})
                    assert r.status_code == 429
                    assert json.loads(r.content)["error"] == "too_many_streams"
                    assert m.rejected_streams["max_streams"].value == 1
                    await stack.subscribed(3)
            # Closed streams give their places back.
            await async_wait_until(lambda: stack.gateway.reader.limits.open == 0, timeout=TIMEOUT)
            async with sse(stack, {"log": ""}, stack.tokens.admin), \
                    sse(stack, {"log": ""}, stack.tokens.admin):
                await stack.subscribed(2)
            metrics = stack.gateway.metrics.render_prometheus()
            assert 'rejected_streams{reason="max_streams_per_token"} 1' in metrics

    run(body())


def test_an_rlp_without_a_free_slot_is_a_503_before_any_stream(pki, tmp_path):
    async def body():
        async with gateway_stack(pki, tmp_path) as stack:
            # The RLP of gateway_stack serves MAX_EGRESS_STREAMS=500; fill them with consumers.
            limit = stack.rlp.config.max_egress_streams
            consumer = channel(pki, stack.rlp.address, "reverselogproxy")
            holders = [Collector(consumer, egress_pb2.EgressBatchRequest(selectors=selectors("log")))
                       for _ in range(limit)]
            for holder in holders:
                await holder.ready()
            r = await stack.client.get(stack.url, params={"log": ""},
                                       headers={"Authorization": f"bearer {stack.tokens.admin}"})
            assert r.status_code == 503
            assert json.loads(r.content) == {
                "message": "the reverse log proxy refused the stream: unable to create stream, "
                           f"max egress streams reached: {limit}",
                "error": "logs_provider_exhausted"}
            assert stack.gateway.m.rejected_streams["logs_provider"].value == 1
            assert stack.gateway.m.streams.value == 0
            await holders[0].cancel()
            await async_wait_until(lambda: len(stack.rlp.egress.streams) < limit, timeout=TIMEOUT)
            async with sse(stack, {"log": ""}, stack.tokens.admin) as reader:
                assert reader.response.status_code == 200
            for holder in holders[1:]:
                await holder.cancel()
            await consumer.close()

    run(body(), timeout=90)


def test_stream_limits_key_tokens_by_digest_and_give_places_back():
    limits = StreamLimits(max_streams=3, max_per_token=2)
    a, b = limits.key("Bearer tok-a"), limits.key("bearer   tok-b ")
    assert a == limits.key("BEARER tok-a") and a != b and b"tok-a" not in a
    assert limits.acquire(a) is None and limits.acquire(a) is None
    assert limits.acquire(a).status == 429
    assert limits.acquire(b) is None
    assert limits.acquire(b).name == "too_many_streams"
    limits.release(a)
    limits.release(a)
    assert limits.tokens() == 1 and limits.open == 1
    assert limits.acquire(a) is None
