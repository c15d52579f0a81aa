"""Tests for lgr.core.clients.load: the emit loop and its line reader."""

from __future__ import annotations

import asyncio
import os

from lgr.core import envelope, tls
from lgr.core.clients import load
from lgr.core.clients.ingress import IngressClient
from tests.core.clients.fakes import FakeIngress, serve


def test_lines_splits_on_newlines_and_keeps_a_last_partial_line():
    read_end, write_end = os.pipe()
    os.write(write_end, b"one\r\ntwo\n\n\xffthree")
    os.close(write_end)

    async def collect():
        return [line async for line in load.lines(read_end)]

    try:
        assert asyncio.run(asyncio.wait_for(collect(), 10)) == [b"one", b"two", b"", b"\xffthree"]
    finally:
        os.close(read_end)


def test_send_all_sends_every_item_and_times_the_run(pki):
    async def scenario():
        fake = FakeIngress()
        async with serve(fake, pki, "agent") as port:
            creds = tls.client_credentials(*pki.files("client"))
            async with IngressClient(f"127.0.0.1:{port}", creds, buffer_size=50) as client:
                run = await load.send_all(client, load.numbers(300),
                                          lambda i: envelope.event("n", str(i)), rate=100_000)
        return fake, client, run

    fake, client, run = asyncio.run(asyncio.wait_for(scenario(), 20))
    assert [e.event.body for e in fake.envelopes] == [str(i) for i in range(300)]
    assert client.stats.dropped == 0  # send() waited for room in the small buffer
    assert run.finished is not None and run.elapsed() > 0
