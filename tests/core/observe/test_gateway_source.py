"""GatewaySource: the firehose from an HTTPS /v2/read server-sent event stream through the shared
GatewayClient, with the token and address of the dashboard's config; the feed runner on top of it."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ssl
from urllib.parse import parse_qsl

import pytest
from aiohttp import web

from lgr.core import protojson
from lgr.core.apps.gateway.app import Gateway
from lgr.core.apps.gateway.query import build_selectors, parse_query
from lgr.core.clients.egress import egress_request
from lgr.core.clients.gateway import GatewayError, Heartbeat, StreamRenewed
from lgr.core.clients.sse import SseDecoder
from lgr.core.errors import ExitCode, UnavailableError
from lgr.core.observe.config import load_plan
from lgr.core.observe.connection_status import CONNECTED, RETRYING
from lgr.core.observe.feed_runner import FeedRunner
from lgr.core.observe.firehose_feed import FirehoseFeed
from lgr.core.observe.gateway_source import GatewaySource
from tests.conftest import async_wait_until
from tests.core.apps.firehose_support import TIMEOUT, channel, every_kind, run, send
from tests.core.apps.gateway_support import gateway_stack


def source_for(pki, tmp_path, addr: str, token: str, **kwargs) -> GatewaySource:
    """The source `lgr dashboard --via gateway --gateway-addr ADDR --token TOKEN` builds."""
    plan = load_plan({"LGR_STATE_DIR": str(tmp_path), "LGR_CA_FILE": str(pki.ca)},
                     {"via": "gateway", "gateway_addr": addr, "token": token})
    return GatewaySource(plan.config, **kwargs)


def test_the_shared_sse_decoder_handles_split_chunks_heartbeats_and_crlf():
    decoder = SseDecoder()
    assert list(decoder.feed(b"event: heartbeat\r\ndata: 17")) == []
    assert list(decoder.feed(b"00\r\n\r\ndata: {\"batch\"")) == [("heartbeat", "1700")]
    assert list(decoder.feed(b":[]}\n\nevent: closing\ndata: bye\n\n")) == [
        ("", '{"batch":[]}'), ("closing", "bye")]


@contextlib.asynccontextmanager
async def gateway(pki, frames: list[bytes], token: str = "good"):
    seen = []

    async def read(request: web.Request) -> web.StreamResponse:
        seen.append((request.rel_url.raw_query_string, request.headers.get("Authorization")))
        if request.headers.get("Authorization") != f"bearer {token}":
            return web.Response(status=404, text='{"message":"resource not found","error":"not_found"}')
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for frame in frames:
            await response.write(frame)
        return response

    app = web.Application()
    app.router.add_get("/v2/read", read)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.cert("gateway"), pki.key("gateway"))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


def test_streams_the_firehose_in_the_gateways_protojson_and_renews_at_closing(pki, tmp_path):
    envs = every_kind()
    frames = [b"data: " + protojson.batch_json(envs[:2]).encode() + b"\n\n",
              b"event: heartbeat\ndata: 1\n\n",
              b"data: " + protojson.batch_json(envs[2:]).encode() + b"\n\n",
              b"event: closing\ndata: closing due to stream timeout\n\n",
              b"data: " + protojson.batch_json(envs).encode() + b"\n\n"]

    async def scenario():
        async with gateway(pki, frames) as (address, seen):
            source = source_for(pki, tmp_path, address, "good")
            events, batches = [], []
            async with contextlib.aclosing(source.open(events.append)) as stream:
                async for batch in stream:
                    batches.append(batch)
                    if len(batches) == 4:
                        break
            reachable = await asyncio.to_thread(source.reachable)
        return address, source, batches, events, seen, reachable

    address, source, batches, events, seen, reachable = asyncio.run(asyncio.wait_for(scenario(), 20))
    assert source.what == f"the rlp gateway at https://{address}"
    # Nothing after "closing" is read: the client reopens the stream at once instead.
    assert batches == [envs[:2], envs[2:], envs[:2], envs[2:]]
    assert [e for e in events if not isinstance(e, Heartbeat)] == [StreamRenewed()]
    assert Heartbeat() in events
    assert len(seen) == 2 and seen[0] == seen[1]
    query, auth = seen[0]
    assert auth == "bearer good"
    # The whole firehose: all five types from every source, as the rlp's firehose request selects.
    assert sorted(key for key, _ in parse_qsl(query, keep_blank_values=True)) == sorted(
        ["log", "counter", "gauge", "timer", "event"])
    assert list(build_selectors(parse_query(query))) == list(egress_request().selectors)
    assert reachable


def test_a_refused_token_is_reported_as_such(pki, tmp_path):
    async def scenario():
        async with gateway(pki, []) as (address, _):
            source = source_for(pki, tmp_path, address, "bad")
            with pytest.raises(GatewayError) as err:
                async for _ in source.open(lambda e: None):
                    pass
            return err.value

    error = asyncio.run(asyncio.wait_for(scenario(), 20))
    assert "refused the token for this request (404)" in error.message and "admin token" in error.hint
    assert error.exit_code == ExitCode.UNAVAILABLE


def test_nothing_listening_is_unavailable(pki, tmp_path):
    async def scenario():
        source = source_for(pki, tmp_path, "127.0.0.1:1", "t", connect_timeout=0.3)
        with pytest.raises(UnavailableError, match="cannot reach the rlp gateway at https://127.0.0.1:1"):
            async for _ in source.open(lambda e: None):
                pass
        return source.reachable()

    assert asyncio.run(asyncio.wait_for(scenario(), 20)) is False


def test_the_feed_runner_streams_a_real_gateway_and_shows_its_reconnects(pki, tmp_path):
    async def body():
        async with gateway_stack(pki, tmp_path) as stack:
            source = source_for(pki, tmp_path, stack.gateway.url, stack.tokens.admin)
            feed = FirehoseFeed()
            runner = FeedRunner(feed, source, probe_every=0.05)
            task = asyncio.ensure_future(runner.run())
            try:
                await async_wait_until(lambda: feed.status.state == CONNECTED, timeout=TIMEOUT)
                await stack.subscribed(1)
                ingress = channel(pki, stack.router.address, "doppler", name="agent")
                await send(ingress, every_kind("dash-app"))
                await async_wait_until(lambda: feed.snapshot().total == 5, timeout=TIMEOUT)

                await stack.gateway.stop(0.5)
                status = await async_wait_until(
                    lambda: feed.status.state == RETRYING and "broke" in feed.status.message
                    and feed.status, timeout=TIMEOUT)
                assert status.message.startswith(f"the stream from {source.what} broke (")
                again = Gateway(dataclasses.replace(stack.gateway.config,
                                                    gateway_addr=stack.gateway.address))
                await again.start()
                try:
                    status = await async_wait_until(
                        lambda: feed.status.state == CONNECTED and feed.status, timeout=TIMEOUT)
                    assert status.message.startswith(f"streaming from {source.what} (back after ")
                    await stack.subscribed(1)
                    await send(ingress, every_kind("dash-app"))
                    await async_wait_until(lambda: feed.snapshot().total == 10, timeout=TIMEOUT)
                finally:
                    await ingress.close()
                    await again.stop(0.5)
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    run(body())
