"""The RLP over real mTLS gRPC, in front of real routers: merging, tags, requests, drops."""

from __future__ import annotations

from lgr.core._proto.loggregator.v2 import egress_pb2, envelope_pb2
from lgr.core.apps.router.app import Router
from lgr.core.drops import REPORT_METADATA, is_report
from tests.conftest import async_wait_until
from tests.core.apps.firehose_support import (
    Collector,
    channel,
    every_kind,
    log_envelope,
    rlp_and_consumer,
    rlp_stack,
    router_config,
    run,
    selectors,
    send,
    started,
    subscribed,
)


def test_a_consumer_gets_every_routers_envelopes_with_all_fields(pki):
    async def body():
        r1, r2 = Router(router_config(pki)), Router(router_config(pki))
        async with started(r1, r2), \
                rlp_and_consumer(pki, [r1.address, r2.address]) as (rlp, consumer):
            c = Collector(consumer, egress_pb2.EgressBatchRequest(
                selectors=selectors(), use_preferred_tags=True))
            await c.ready()
            await subscribed([r1, r2])
            ch1 = channel(pki, r1.address, "doppler", name="agent")
            ch2 = channel(pki, r2.address, "doppler", name="agent")
            sent = every_kind("a")
            await send(ch1, sent[:3])
            await send(ch2, sent[3:])
            await async_wait_until(lambda: len(c.envelopes) == 5)
            expected = [envelope_pb2.Envelope() for _ in sent]
            for want, env in zip(expected, sent):
                want.CopyFrom(env)
                want.ClearField("deprecated_tags")
            expected[0].tags.update({"job": "cell", "index": "-7", "load": "1.5"})
            assert sorted(c.envelopes, key=lambda e: e.timestamp) == expected
            # egress counts a batch once its write completes, just after the client has it.
            await async_wait_until(lambda: rlp.m.egress.value == 5)
            assert rlp.m.ingress.value == 5
            for ch in (ch1, ch2):
                await ch.close()

    run(body())


def test_without_preferred_tags_tags_become_deprecated_text_values(pki):
    async def body():
        async with rlp_stack(pki) as (router, _, consumer, ch):
            c = Collector(consumer, egress_pb2.EgressRequest(selectors=selectors("log")),
                          "Receiver")
            await c.ready()
            await subscribed([router])
            await send(ch, every_kind("a")[:1])
            await async_wait_until(lambda: len(c.envelopes) == 1)
            env = c.envelopes[0]
            assert dict(env.tags) == {}
            assert {k: (v.WhichOneof("data"), getattr(v, v.WhichOneof("data")))
                    for k, v in env.deprecated_tags.items()} == {
                "deployment": ("text", "cf"), "ip": ("text", "10.0.0.1"),
                "job": ("text", "cell"), "index": ("integer", -7),
                "load": ("decimal", 1.5)}

    run(body())


def test_shard_id_deterministic_name_and_legacy_selector_reach_the_routers(pki):
    async def body():
        async with rlp_stack(pki) as (router, _, consumer, ch):
            request = egress_pb2.EgressBatchRequest(shard_id="s", deterministic_name="d")
            request.legacy_selector.source_id = "a"
            request.legacy_selector.log.SetInParent()
            c = Collector(consumer, request)
            await c.ready()
            await subscribed([router])
            sub = next(iter(router.egress.streams.values())).subscription
            assert (sub.shard_id, sub.deterministic_name) == ("s", "d")
            await send(ch, [log_envelope(0, "b"), log_envelope(1, "a")])
            await async_wait_until(lambda: len(c.envelopes) == 1)
            assert c.envelopes[0].source_id == "a"

    run(body())


def test_a_stalled_consumer_drops_are_counted_and_reported_to_it(pki):
    async def body():
        async with rlp_stack(pki, {"subscriber_buffer_size": 100_000},
                             buffer_size=100) as (router, rlp, stalled_ch, ch):
            rpc = stalled_ch.unary_stream(
                "/loggregator.v2.Egress/BatchedReceiver",
                request_serializer=lambda r: r.SerializeToString(),
                response_deserializer=envelope_pb2.EnvelopeBatch.FromString)
            stalled = rpc(egress_pb2.EgressBatchRequest(
                selectors=selectors("log"), use_preferred_tags=True), metadata=REPORT_METADATA)
            await stalled.initial_metadata()
            await subscribed([router])
            for round_ in range(40):
                await send(ch, [log_envelope(round_ * 100 + i, size=10_000)
                                for i in range(100)])
                if rlp.m.dropped_egress.value:
                    break
            await async_wait_until(lambda: rlp.m.dropped_egress.value > 0)
            stream = next(iter(rlp.egress.streams.values()))
            assert stream.dropped == rlp.m.dropped_egress.value
            # Once the consumer reads again, a report of the loss comes with the data.
            reports = []
            async for batch in stalled:
                reports += [e for e in batch.batch if is_report(e)]
                if reports:
                    break
            assert reports[0].source_id == "reverse_log_proxy"
            assert 0 < reports[0].counter.total <= stream.dropped
            assert reports[0].counter.delta == reports[0].counter.total
            stalled.cancel()

    run(body(), timeout=60)


def test_consumers_that_did_not_ask_get_no_drop_reports(pki):
    async def body():
        async with rlp_stack(pki, buffer_size=5) as (router, rlp, consumer, ch):
            c = Collector(consumer, egress_pb2.EgressBatchRequest(selectors=selectors("log")))
            await c.ready()
            await subscribed([router])
            stream = next(iter(rlp.egress.streams.values()))
            # Overflow the stream's buffer directly, as a burst from the routers would.
            stream.diode.put_many([log_envelope(i).SerializeToString() for i in range(8)])
            await async_wait_until(lambda: len(c.envelopes) == 5)
            assert stream.dropped == 3 and rlp.m.dropped_egress.value == 3
            await send(ch, [log_envelope(100)])
            await async_wait_until(lambda: len(c.envelopes) == 6)
            assert not any(is_report(e) for e in c.envelopes)

    run(body())
