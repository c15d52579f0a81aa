"""GatewaySource: the firehose from an HTTPS /v2/read server-sent event stream, with a token."""

from __future__ import annotations

import asyncio
import contextlib
import ssl

import pytest
from aiohttp import web

from lgr.core import protojson
from lgr.core.errors import UnavailableError
from lgr.core.observe.gateway_source import READ_PATH, GatewaySource, SseParser, parse_batch
from tests.core.apps.firehose_support import every_kind


def test_sse_parser_handles_split_chunks_heartbeats_and_crlf():
    parser = SseParser()
    assert parser.feed(b"event: heartbeat\r\ndata: 17") == []
    assert parser.feed(b"00\r\n\r\ndata: {\"batch\"") == [("heartbeat", "1700")]
    assert parser.feed(b":[]}\n\nevent: closing\ndata: bye\n\n") == [
        ("message", '{"batch":[]}'), ("closing", "bye")]


def test_parses_the_gateways_protojson_back_into_envelopes():
    envs = every_kind()
    assert parse_batch(protojson.batch_json(envs)) == envs


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


def test_streams_batches_until_the_gateway_closes(pki):
    envs = every_kind()
    frames = [b"data: " + protojson.batch_json(envs[:2]).encode() + b"\n\n",
              b"event: heartbeat\ndata: 1\n\n",
              b"data: " + protojson.batch_json(envs[2:]).encode() + b"\n\n",
              b"event: closing\ndata: closing due to stream timeout\n\n",
              b"data: " + protojson.batch_json(envs).encode() + b"\n\n"]

    async def scenario():
        async with gateway(pki, frames) as (address, seen):
            source = GatewaySource(address, "good", pki.ca)
            batches = [b async for b in source.open(lambda e: None)]
            reachable = await asyncio.to_thread(source.reachable)
        return batches, seen, reachable

    batches, seen, reachable = asyncio.run(asyncio.wait_for(scenario(), 20))
    assert batches == [[], envs[:2], envs[2:]]  # [] first: connected
    assert seen == [(READ_PATH.split("?", 1)[1], "bearer good")]
    assert reachable


def test_a_refused_token_is_reported_as_such(pki):
    async def scenario():
        async with gateway(pki, []) as (address, _):
            source = GatewaySource(address, "bad", pki.ca)
            with pytest.raises(UnavailableError) as err:
                async for _ in source.open(lambda e: None):
                    pass
            return err.value

    error = asyncio.run(asyncio.wait_for(scenario(), 20))
    assert "refused the stream (404)" in error.message and "admin token" in error.hint


def test_nothing_listening_is_unavailable(pki):
    async def scenario():
        source = GatewaySource("127.0.0.1:1", "t", pki.ca)
        with pytest.raises(UnavailableError, match="cannot reach the rlp gateway at 127.0.0.1:1"):
            async for _ in source.open(lambda e: None):
                pass
        return source.reachable()

    assert asyncio.run(asyncio.wait_for(scenario(), 20)) is False
