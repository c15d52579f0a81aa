"""The router over real mTLS gRPC: round trips, selectors, shard groups, slow subscribers."""

from __future__ import annotations

import asyncio
import urllib.request

from lgr.core._proto.loggregator.v2 import egress_pb2, envelope_pb2
from lgr.core.grpc_server import identity
from lgr.core.tls import client_ssl_context
from tests.conftest import async_wait_until
from tests.core.apps.firehose_support import (
    Collector,
    channel,
    every_kind,
    log_envelope,
    router_and_channel,
    run,
    selectors,
    send,
)


def test_every_kind_round_trips_with_all_fields(pki):
    async def body():
        async with router_and_channel(pki) as (_, ch):
            batched = Collector(ch, egress_pb2.EgressBatchRequest(selectors=selectors()))
            single = Collector(ch, egress_pb2.EgressRequest(selectors=selectors()), "Receiver")
            await batched.ready()
            await single.ready()
            sent = every_kind()
            await send(ch, sent)
            await async_wait_until(
                lambda: len(batched.envelopes) == 5 and len(single.envelopes) == 5)
            assert batched.envelopes == sent
            assert single.envelopes == sent

    run(body())


def test_sender_and_send_also_ingress(pki):
    async def body():
        async with router_and_channel(pki) as (_, ch):
            c = Collector(ch, egress_pb2.EgressBatchRequest(selectors=selectors("log")))
            await c.ready()
            sender = ch.stream_unary("/loggregator.v2.Ingress/Sender",
                                     request_serializer=identity, response_deserializer=identity)
            await sender(iter([log_envelope(0).SerializeToString()]))
            send_unary = ch.unary_unary("/loggregator.v2.Ingress/Send",
                                        request_serializer=identity, response_deserializer=identity)
            batch = envelope_pb2.EnvelopeBatch(batch=[log_envelope(1)])
            await send_unary(batch.SerializeToString())
            await async_wait_until(lambda: len(c.envelopes) == 2)
            assert [e.log.payload for e in c.envelopes] == [b"msg-0", b"msg-1"]

    run(body())


def test_selectors_pick_by_source_type_and_name(pki):
    async def body():
        async with router_and_channel(pki) as (_, ch):
            by_app = Collector(ch, egress_pb2.EgressBatchRequest(
                selectors=selectors(source_id="a")))
            named = egress_pb2.Selector()
            named.counter.name = "requests"
            by_counter = Collector(ch, egress_pb2.EgressBatchRequest(selectors=[named]))
            gauges = egress_pb2.Selector()
            gauges.gauge.names.extend(["memory", "cpu"])
            by_gauge = Collector(ch, egress_pb2.EgressBatchRequest(selectors=[gauges]))
            # Upstream's router ignores legacy_selector and serves no data without selectors.
            legacy = egress_pb2.EgressBatchRequest()
            legacy.legacy_selector.log.SetInParent()
            nothing = Collector(ch, legacy)
            for c in (by_app, by_counter, by_gauge, nothing):
                await c.ready()
            await send(ch, every_kind("a") + every_kind("b"))
            await async_wait_until(lambda: len(by_app.envelopes) == 5
                                   and len(by_counter.envelopes) == 2
                                   and len(by_gauge.envelopes) == 2)
            assert {e.source_id for e in by_app.envelopes} == {"a"}
            assert [e.source_id for e in by_counter.envelopes] == ["a", "b"]
            assert {e.WhichOneof("message") for e in by_gauge.envelopes} == {"gauge"}
            # A last envelope that everyone selects marks the end of what the others got.
            await send(ch, [every_kind("a")[1]])
            await async_wait_until(lambda: len(by_counter.envelopes) == 3)
            assert nothing.envelopes == [] and len(by_app.envelopes) == 6

    run(body())


def test_shard_groups_split_exactly_and_distinct_groups_each_get_all(pki):
    async def body():
        async with router_and_channel(pki) as (_, ch):

            def member(shard: str) -> Collector:
                return Collector(ch, egress_pb2.EgressBatchRequest(
                    shard_id=shard, selectors=selectors("log")))

            a1, a2, b = member("group-a"), member("group-a"), member("group-b")
            for c in (a1, a2, b):
                await c.ready()
            n = 400
            await send(ch, [log_envelope(i) for i in range(n)])
            await async_wait_until(
                lambda: len(a1.envelopes) + len(a2.envelopes) == n and len(b.envelopes) == n)
            got_a1 = {e.log.payload for e in a1.envelopes}
            got_a2 = {e.log.payload for e in a2.envelopes}
            assert not got_a1 & got_a2
            assert len(got_a1 | got_a2) == n
            assert got_a1 and got_a2  # 400 random picks never land on one member alone
            assert {e.log.payload for e in b.envelopes} == got_a1 | got_a2

    run(body())


def test_deterministic_name_sends_a_counter_name_to_one_member(pki):
    async def body():
        async with router_and_channel(pki) as (_, ch):
            members = [Collector(ch, egress_pb2.EgressBatchRequest(
                shard_id="g", deterministic_name=f"member-{i}", selectors=selectors("counter")))
                for i in range(2)]
            for c in members:
                await c.ready()
            counters = []
            for i in range(60):
                env = envelope_pb2.Envelope(source_id="app")
                env.counter.name = f"metric-{i % 6}"
                counters.append(env)
            await send(ch, counters)
            await async_wait_until(lambda: sum(len(c.envelopes) for c in members) == 60)
            names = [{e.counter.name for e in c.envelopes} for c in members]
            assert not names[0] & names[1]
            assert names[0] | names[1] == {f"metric-{i}" for i in range(6)}

    run(body())


def test_a_stalled_subscriber_neither_slows_another_nor_goes_uncounted(pki):
    async def body():
        async with router_and_channel(pki, subscriber_buffer_size=200) as (router, ch):
            # The stalled one has its own connection and never reads, so HTTP/2 flow control
            # soon stops the router's writes to it and its buffer overflows.
            stalled_ch = channel(pki, router.address, "doppler")
            rpc = stalled_ch.unary_stream("/loggregator.v2.Egress/BatchedReceiver",
                                          request_serializer=lambda r: r.SerializeToString(),
                                          response_deserializer=identity)
            stalled = rpc(egress_pb2.EgressBatchRequest(selectors=selectors("log")))
            await stalled.initial_metadata()
            reader = Collector(ch, egress_pb2.EgressBatchRequest(selectors=selectors("log")))
            await reader.ready()
            total = 0
            for round_ in range(40):
                await send(ch, [log_envelope(round_ * 100 + i, size=10_000) for i in range(100)])
                total += 100
                await async_wait_until(lambda: len(reader.envelopes) == total)
                if router.dropped_egress.value:
                    break
            assert router.dropped_egress.value > 0
            streams = sorted(router.egress.streams.values(), key=lambda s: s.id)
            assert streams[0].dropped == router.dropped_egress.value  # all the stalled one's
            assert streams[1].dropped == 0
            assert len(reader.envelopes) == total
            stalled.cancel()
            await stalled_ch.close()

    run(body(), timeout=60)


def test_metrics_move_and_are_served_over_mtls(pki):
    async def body():
        async with router_and_channel(pki, ingress_buffer_size=10) as (router, ch):
            c = Collector(ch, egress_pb2.EgressBatchRequest(selectors=selectors("log")))
            await c.ready()
            assert router.subscriptions.value == 1
            await send(ch, [log_envelope(i) for i in range(5)])
            await async_wait_until(lambda: len(c.envelopes) == 5)
            assert router.ingress_count.value == 5
            # egress counts a batch once its write completes, just after the client has it.
            await async_wait_until(lambda: router.egress_count.value == 5)
            # One batch larger than the ingress buffer overflows it at once.
            await send(ch, [log_envelope(i) for i in range(25)], batch_size=25)
            await async_wait_until(lambda: router.dropped_ingress.value == 15)
            context = client_ssl_context(*pki.files("client"))

            def scrape() -> str:
                req = urllib.request.Request(router.metrics_url.replace("127.0.0.1", "localhost"))
                context.check_hostname = False
                with urllib.request.urlopen(req, context=context, timeout=5) as resp:
                    return resp.read().decode()

            text = await asyncio.to_thread(scrape)
            assert "ingress 30" in text
            assert 'dropped{direction="ingress"} 15' in text
            assert "subscriptions 1" in text
            await c.cancel()
            await async_wait_until(lambda: router.subscriptions.value == 0)

    run(body())
