"""The traffic controller with real websockets in front of real routers: frames, sharing, cuts."""

from __future__ import annotations

import asyncio
import base64
import os

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from lgr.core._proto.events import envelope_pb2 as v1
from lgr.core._proto.loggregator.v2 import egress_pb2, envelope_pb2
from tests.conftest import async_wait_until
from tests.core.apps.firehose_support import Collector, channel, run, selectors
from tests.core.apps.tc_support import (
    FrameReader,
    app_log,
    auth,
    client_ssl,
    container_metric,
    counter,
    make_tokens,
    publish,
    receive,
    receive_until_quiet,
    subscribed,
    system,
    ws,
)

V1 = v1.Envelope


@pytest.fixture
def tokens(tmp_path):
    return make_tokens(tmp_path)


def mixed(source_id: str) -> list[envelope_pb2.Envelope]:
    """A log, a counter, a container metric, an event (no v1 form) and a tagless timer."""
    event = envelope_pb2.Envelope(timestamp=5, source_id=source_id)
    event.event.title = "no v1 form"
    timer = envelope_pb2.Envelope(timestamp=6, source_id=source_id)
    timer.timer.name = "http"  # without tags its HttpStartStop lacks required fields: skipped
    return [app_log(source_id, f"hello from {source_id}"), counter(source_id, "requests", 5),
            container_metric(source_id, 2, 12.5), event, timer]


def test_app_stream_and_firehose_send_dropsonde_frames_from_every_router(pki, tokens):
    async def body():
        async with system(pki, tokens, routers=2) as (routers, tc):
            async with ws(tc, "/apps/app-a/stream", auth(tokens.admin)) as app, \
                    ws(tc, "/firehose/everything", auth(tokens.admin)) as firehose:
                await subscribed(routers, 3)  # the recent-logs store reads every router too
                await publish(pki, routers[0], mixed("app-a"))
                await publish(pki, routers[1], mixed("app-b"))
                # As upstream's router: a counter belongs to the app "system", not to its source.
                log, metric = await receive(app, 2)
                assert log.eventType == V1.LogMessage and log.origin == "test"
                assert log.deployment == "cf"
                assert log.logMessage.message == b"hello from app-a"
                assert log.logMessage.app_id == "app-a"
                assert log.logMessage.message_type == 1  # OUT
                assert metric.eventType == V1.ContainerMetric
                cm = metric.containerMetric
                assert (cm.applicationId, cm.instanceIndex, cm.cpuPercentage) == ("app-a", 2, 12.5)
                assert cm.memoryBytesQuota == 4096
                everything = await receive(firehose, 6)
                apps = sorted((e.eventType, _app_of(e)) for e in everything)
                assert apps == sorted((t, a) for a in ("app-a", "app-b") for t in (
                    V1.LogMessage, V1.CounterEvent, V1.ContainerMetric))
                count = next(e for e in everything if e.eventType == V1.CounterEvent)
                assert (count.counterEvent.name, count.counterEvent.delta) == ("requests", 5)
                assert await receive_until_quiet(app) == []
                assert tc.m.egress_stream.value == 2 and tc.m.egress_firehose.value == 6
                # The timers have no v1 form Go would marshal: each router skips its one.
                assert [r.v1.marshal_errors.value for r in routers] == [1, 1]
                assert tc.m.app_streams.value == 1 and tc.m.firehoses.value == 1

    run(body())


def _app_of(env: V1) -> str:
    if env.HasField("logMessage"):
        return env.logMessage.app_id
    if env.HasField("containerMetric"):
        return env.containerMetric.applicationId
    return env.tags["source_id"]


def test_firehose_filter_type_logs_and_metrics(pki, tokens):
    async def body():
        async with system(pki, tokens) as (routers, tc):
            async with ws(tc, "/firehose/l?filter-type=logs", auth(tokens.admin)) as logs, \
                    ws(tc, "/firehose/m?filter-type=metrics", auth(tokens.admin)) as metrics:
                await subscribed(routers, 3)
                await publish(pki, routers[0], mixed("app-a"))
                assert [e.eventType for e in await receive(logs, 1)] == [V1.LogMessage]
                got = await receive(metrics, 2)
                assert [e.eventType for e in got] == [V1.CounterEvent, V1.ContainerMetric]
                assert await receive_until_quiet(logs) == []
                assert await receive_until_quiet(metrics) == []

    run(body())


def test_one_subscription_id_splits_the_stream_another_gets_everything(pki, tokens):
    async def body():
        async with system(pki, tokens) as (routers, tc):
            async with ws(tc, "/firehose/shared", auth(tokens.admin)) as a, \
                    ws(tc, "/firehose/shared", auth(tokens.admin)) as b, \
                    ws(tc, "/firehose/solo", auth(tokens.admin)) as solo:
                await subscribed(routers, 4)
                sent = [app_log("app-a", f"line {i}") for i in range(200)]
                await publish(pki, routers[0], sent)
                got_a, got_b = FrameReader(a), FrameReader(b)
                all_of_solo = await receive(solo, 200)
                await async_wait_until(
                    lambda: len(got_a.envelopes) + len(got_b.envelopes) >= 200, timeout=10)
                await got_a.stop()
                await got_b.stop()
                texts = lambda envs: [e.logMessage.message for e in envs]  # noqa: E731
                assert texts(all_of_solo) == [e.log.payload for e in sent]
                assert got_a.envelopes and got_b.envelopes, "both members get a share"
                assert sorted(texts(got_a.envelopes) + texts(got_b.envelopes)) == sorted(
                    texts(all_of_solo))

    run(body())


def test_a_slow_consumer_is_cut_and_reported_while_a_fast_one_keeps_flowing(pki, tokens):
    async def body():
        # The controller's events go into Loggregator: here straight into the router (its
        # certificate also carries the agent's name "metron"), where a gRPC reader sees them.
        async with system(pki, tokens, slow_consumer_timeout="0.5s",
                          events_to_router=True) as (routers, tc):
            router = routers[0]
            watcher = channel(pki, router.address, "doppler")
            events = Collector(watcher, egress_pb2.EgressBatchRequest(
                selectors=selectors("event", source_id="traffic_controller")))
            await events.ready()
            async with ws(tc, "/firehose/slow", auth(tokens.admin), max_queue=1) as slow, \
                    ws(tc, "/firehose/fast", auth(tokens.admin)) as fast:
                await subscribed(routers, 4)
                # 3 MB at a time until the slow reader's socket buffers are full and a write
                # to it stalls; the fast reader takes each lot meanwhile.
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 20
                while tc.m.slow_consumer.value == 0:
                    assert loop.time() < deadline, "the stalled reader was never cut"
                    await publish(pki, router, [app_log("app-a", "x" * 60_000)] * 50)
                    await receive(fast, 50)
                    await asyncio.sleep(0.1)
                await publish(pki, router, [app_log("app-a", "after the cut")])
                (after,) = await receive(fast, 1)
                assert after.logMessage.message == b"after the cut"
                with pytest.raises(ConnectionClosed):
                    async with asyncio.timeout(15):
                        while True:
                            await slow.recv()
                await async_wait_until(lambda: len(events.envelopes) == 1, timeout=10)
                event = events.envelopes[0]
                assert event.source_id == "traffic_controller"
                assert event.event.title == "Traffic Controller has disconnected slow consumer"
                assert "Path: /firehose/slow" in event.event.body
                assert tc.m.slow_consumer.value == 1
                assert tc.emitter.events[0][0] == event.event.title
            await events.cancel()
            await watcher.close()

    run(body(), timeout=50)


def test_a_silent_client_is_closed_with_1008_while_a_live_one_stays(pki, tokens):
    async def body():
        async with system(pki, tokens, keepalive="0.4s") as (routers, tc):
            async with ws(tc, "/apps/app-a/stream", auth(tokens.admin)) as live:
                pings, code, reason = await _silent_client(tc, "/firehose/quiet", tokens.admin)
                assert pings >= 1
                assert code == 1008
                assert reason == "Client did not respond to ping before keep-alive timeout expired."
                assert tc.m.keepalive_expired.value == 1
                # The live client answered every ping meanwhile (over twice the keep-alive).
                await subscribed(routers, 2)
                await publish(pki, routers[0], [app_log("app-a", "still here")])
                (env,) = await receive(live, 1)
                assert env.logMessage.message == b"still here"

    run(body())


async def _silent_client(tc, path: str, token: str) -> tuple[int, int, str]:
    """Open a websocket by hand and never answer: (pings seen, close code, close reason)."""
    host, port = tc.address.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET {path} HTTP/1.1\r\nHost: {tc.address}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  f"Sec-WebSocket-Version: 13\r\nAuthorization: bearer {token}\r\n\r\n").encode())
    try:
        async with asyncio.timeout(10):
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 101"), head
            pings = 0
            while True:
                b0, b1 = await reader.readexactly(2)
                length = b1 & 0x7F
                if length == 126:
                    length = int.from_bytes(await reader.readexactly(2), "big")
                elif length == 127:
                    length = int.from_bytes(await reader.readexactly(8), "big")
                payload = await reader.readexactly(length)
                opcode = b0 & 0x0F
                if opcode == 0x9:
                    pings += 1
                elif opcode == 0x8:
                    return pings, int.from_bytes(payload[:2], "big"), payload[2:].decode()
    finally:
        writer.close()


def test_wss_with_the_outgoing_certificate_and_400_for_plain_http(pki, tokens):
    _, cert, key = pki.files("tc")

    async def body():
        async with system(pki, tokens, outgoing_cert_file=str(cert),
                          outgoing_key_file=str(key)) as (routers, tc):
            assert tc.url.startswith("wss://")
            async with ws(tc, "/apps/app-a/stream", auth(tokens.admin),
                          ssl=client_ssl(pki)) as conn:
                await subscribed(routers, 2)
                await publish(pki, routers[0], [app_log("app-a", "over tls")])
                (env,) = await receive(conn, 1)
                assert env.logMessage.message == b"over tls"
            async with httpx.AsyncClient(verify=client_ssl(pki)) as client:
                resp = await client.get(tc.http_url + "/firehose/x", headers=auth(tokens.admin))
            assert resp.status_code == 400

    run(body())


def test_stopping_closes_websockets_with_going_away(pki, tokens):
    async def body():
        async with system(pki, tokens) as (routers, tc):
            conn = await ws(tc, "/firehose/bye", auth(tokens.admin))
            await subscribed(routers, 2)
            await tc.stop(1.0)
            with pytest.raises(ConnectionClosed) as closed:
                async with asyncio.timeout(5):
                    await conn.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
            with pytest.raises((OSError, InvalidStatus)):
                await ws(tc, "/firehose/late", auth(tokens.admin))

    run(body())
