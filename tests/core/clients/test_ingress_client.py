"""Tests for lgr.core.clients.ingress against a real mTLS BatchSender server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import threading

import pytest

from lgr.core import envelope, tls
from lgr.core.clients.defaults import AgentClientConfig, load_client_config
from lgr.core.clients.blocking import BlockingIngressClient
from lgr.core.clients.channel import WRITE_ON_ENDED_STREAM
from lgr.core.clients.ingress import IngressClient
from lgr.core.errors import UnavailableError
from tests.conftest import async_wait_until
from tests.core.clients.fakes import FakeIngress, ServerThread, serve

TIMEOUT = 20.0


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))


def client_for(pki, port: int, **kwargs) -> IngressClient:
    return IngressClient(f"127.0.0.1:{port}", tls.client_credentials(*pki.files("client")), **kwargs)


def logs(n: int, start: int = 0):
    return [envelope.log(f"line {i}", source_id="src", timestamp=i) for i in range(start, start + n)]


def test_sends_every_envelope_in_order_in_batches_of_at_most_100(pki):
    async def scenario():
        fake = FakeIngress()
        async with serve(fake, pki, "agent") as port:
            async with client_for(pki, port) as client:
                await client.connect(5)
                for env in logs(1050):
                    await client.send(env)
            return fake, client.stats

    fake, stats = run(scenario())
    assert [e.timestamp for e in fake.envelopes] == list(range(1050))
    assert max(fake.batch_sizes) == 100
    assert sum(fake.batch_sizes) == 1050
    assert (stats.sent, stats.failed, stats.dropped) == (1050, 0, 0)
    assert stats.batches == len(fake.batch_sizes)


def test_emit_never_blocks_and_a_full_buffer_drops_the_oldest(pki):
    async def scenario():
        fake = FakeIngress()
        async with serve(fake, pki, "agent") as port:
            client = client_for(pki, port, buffer_size=10)
            await client.start()
            client.emit_many(logs(25))  # the sender cannot run until we yield: 15 are dropped
            assert await client.flush(TIMEOUT)
            await client.close()
            return fake, client.stats

    fake, stats = run(scenario())
    assert [e.timestamp for e in fake.envelopes] == list(range(15, 25))
    assert (stats.sent, stats.dropped, stats.failed) == (10, 15, 0)


def test_reconnects_after_the_agent_breaks_the_stream(pki):
    async def scenario():
        fake = FakeIngress()
        fake.break_after = 1
        async with serve(fake, pki, "agent") as port:
            async with client_for(pki, port, backoff=(0.01, 0.05)) as client:
                client.emit(envelope.log("first", timestamp=0))
                await async_wait_until(lambda: fake.envelopes and fake.break_after is None)
                # Keep sending until an envelope arrives on a new stream; the write that meets
                # the broken stream fails and makes the client reconnect.
                sent = 1
                while fake.streams < 2 or fake.envelopes[-1].timestamp == 0:
                    client.emit(envelope.log("later", timestamp=sent))
                    sent += 1
                    await client.flush(TIMEOUT)
                    await asyncio.sleep(0.01)
            return fake, client, sent

    fake, client, sent = run(scenario())
    assert client.stats.reconnects >= 1
    assert client.stats.sent + client.stats.failed == sent
    assert fake.streams >= 2
    # The agent's status, unless gRPC masked it (it does so under load: grpc/grpc#36066).
    assert client.last_error in ("UNAVAILABLE: fake agent going away", WRITE_ON_ENDED_STREAM)
    received = [e.timestamp for e in fake.envelopes]
    assert received == sorted(received) and received[-1] == sent - 1


def test_connect_reports_an_unreachable_agent(pki):
    async def scenario():
        async with serve(FakeIngress(), pki, "agent") as port:
            pass  # bound then closed: nothing listens on this port any more
        client = client_for(pki, port)
        try:
            await client.connect(0.5)
        finally:
            await client.close()

    with pytest.raises(UnavailableError) as info:
        run(scenario())
    assert "cannot reach the agent at 127.0.0.1:" in info.value.message
    assert "lgr up" in (info.value.hint or "")


def test_connect_fails_fast_on_a_certificate_from_another_ca(pki):
    async def scenario():
        async with serve(FakeIngress(), pki, "agent") as port:
            client = IngressClient(f"127.0.0.1:{port}", tls.client_credentials(*pki.rogue.files("client")))
            try:
                await client.connect(TIMEOUT)  # must not wait the whole timeout
            finally:
                await client.close()

    with pytest.raises(UnavailableError) as info:
        run(scenario())
    assert "handshake" in info.value.message.lower()
    assert "same CA" in (info.value.hint or "")


def test_blocking_client_accepts_envelopes_from_other_threads(pki):
    fake = FakeIngress()
    with ServerThread(fake, pki, "agent") as server:
        client = BlockingIngressClient(f"127.0.0.1:{server.port}", tls.client_credentials(*pki.files("client")))
        client.connect(5)
        workers = [
            threading.Thread(target=lambda k=k: [client.emit(e) for e in logs(50, start=k * 50)])
            for k in range(4)
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join(TIMEOUT)
        assert client.flush(TIMEOUT)
        client.close()
    assert sorted(e.timestamp for e in fake.envelopes) == list(range(200))
    assert client.stats.sent == 200


def test_from_config_uses_the_configured_files(pki):
    env = {
        "LGR_AGENT_ADDR": "127.0.0.1:1",
        "LGR_CA_FILE": str(pki.ca),
        "LGR_CERT_FILE": str(pki.cert("client")),
        "LGR_KEY_FILE": str(pki.key("client")),
    }
    client = IngressClient.from_config(load_client_config(AgentClientConfig, env=env))
    assert client.address == "127.0.0.1:1"
