"""The router's v1 plane over real mTLS gRPC, driven by clients generated from doppler.proto:
DopplerIngestor/Pusher in, Doppler/BatchSubscribe and Subscribe out, and both planes crossed."""

from __future__ import annotations

import json
from pathlib import Path

import grpc

from lgr.core._proto.events import envelope_pb2 as v1_envelope_pb2
from lgr.core._proto.loggregator.v2 import egress_pb2, envelope_pb2
from lgr.core._proto.plumbing import doppler_pb2, doppler_pb2_grpc
from lgr.core.conversion import to_v2
from lgr.core.envelope import join_batch
from lgr.core.grpc_server import identity
from tests.conftest import async_wait_until
from tests.core.apps.firehose_support import (
    Collector,
    channel,
    log_envelope,
    router_and_channel,
    run,
    selectors,
    send,
)
from tests.core.apps.v1_support import APP_ID, V1Collector, every_v1_kind, push, subscription

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
V1 = v1_envelope_pb2.Envelope


def _vector_payloads() -> list[tuple[bytes, bytes]]:
    """(v1 bytes as Go marshalled them, ToV2(env, true) as Go marshalled it) per vector."""
    cases = json.loads((VECTORS / "v1_to_v2.json").read_text())
    return [(bytes.fromhex(c["v1_envelope_hex"]), bytes.fromhex(c["v2_preferred_hex"]))
            for c in cases]


def test_pushed_v1_reaches_v1_byte_identical_and_v2_as_to_v2(pki):
    async def body():
        async with router_and_channel(pki) as (router, ch):
            batched = V1Collector(ch, subscription())
            single = V1Collector(ch, subscription(), batched=False)
            v2 = Collector(ch, egress_pb2.EgressBatchRequest(selectors=selectors()))
            for c in (batched, single, v2):
                await c.ready()
            vectors = _vector_payloads()
            ours = [env.SerializeToString() for env in every_v1_kind()]
            payloads = [v1 for v1, _ in vectors] + ours
            await push(ch, payloads)
            n = len(payloads)
            await async_wait_until(lambda: len(batched.payloads) == n
                                   and len(single.payloads) == n and len(v2.envelopes) == n)
            assert batched.payloads == payloads
            assert single.payloads == payloads
            assert single.messages == n
            expected = [envelope_pb2.Envelope.FromString(v2) for _, v2 in vectors]
            expected += [to_v2(V1.FromString(p), True) for p in ours]
            assert v2.envelopes == expected
            assert router.ingress_count.value == n
            await async_wait_until(lambda: router.egress_count.value == 3 * n)
            assert router.v1.malformed.value == 0

    run(body())


def test_lgr_batch_pusher_takes_many_envelopes_a_message(pki):
    async def body():
        async with router_and_channel(pki) as (router, ch):
            firehose = V1Collector(ch, subscription())
            await firehose.ready()
            payloads = [e.SerializeToString() for e in every_v1_kind()]
            rpc = ch.stream_unary("/lgr.plumbing.DopplerIngestor/BatchPusher",
                                  request_serializer=identity, response_deserializer=identity)
            await rpc(iter([join_batch(payloads[:4]), b"\xff", join_batch(payloads[4:] + [b"x"])]))
            await async_wait_until(lambda: len(firehose.payloads) == 6)
            assert firehose.payloads == payloads
            assert router.ingress_count.value == 6
            assert router.v1.malformed.value == 2  # the batch that does not parse, the payload b"x"

    run(body())


def test_v2_ingress_reaches_v1_subscribers_as_to_v1(pki):
    cases = json.loads((VECTORS / "v2_to_v1.json").read_text())

    async def body():
        async with router_and_channel(pki) as (router, ch):
            firehose = V1Collector(ch, subscription())
            await firehose.ready()
            await send(ch, [envelope_pb2.Envelope.FromString(bytes.fromhex(c["v2_envelope_hex"]))
                            for c in cases])
            wanted = [V1.FromString(bytes.fromhex(want["hex"]))
                      for c in cases for want in c["v1_envelopes"]
                      if want["strict_marshal_error"] is None]
            refused = sum(1 for c in cases for want in c["v1_envelopes"]
                          if want["strict_marshal_error"] is not None)
            assert wanted and refused
            await async_wait_until(lambda: len(firehose.payloads) == len(wanted))
            assert firehose.envelopes == wanted
            await async_wait_until(lambda: router.v1.marshal_errors.value == refused)
            # Not converted back: the pushed-v1 path and the v2 path do not loop into each other.
            assert router.ingress_count.value == len(cases)

    run(body())


def test_filters_by_app_and_type_and_shard_groups(pki):
    async def body():
        async with router_and_channel(pki) as (router, ch):
            collectors = {
                "firehose": V1Collector(ch, subscription()),
                "logs": V1Collector(ch, subscription(kind="log")),
                "metrics": V1Collector(ch, subscription(kind="metric")),
                "app": V1Collector(ch, subscription(APP_ID)),
                "app-logs": V1Collector(ch, subscription(APP_ID, "log")),
                "app-metrics": V1Collector(ch, subscription(APP_ID, "metric")),
                "other-app": V1Collector(ch, subscription("other")),
                "system": V1Collector(ch, subscription("system")),
                "shard-a1": V1Collector(ch, subscription(shard_id="a")),
                "shard-a2": V1Collector(ch, subscription(shard_id="a")),
                "shard-b": V1Collector(ch, subscription(shard_id="b")),
            }
            for c in collectors.values():
                await c.ready()
            assert router.subscriptions.value == len(collectors)
            envs = every_v1_kind() * 20  # log, value, counter, http, error, container
            payloads = [e.SerializeToString() for e in envs]
            await push(ch, payloads)
            n = len(payloads)
            await async_wait_until(lambda: len(collectors["firehose"].payloads) == n
                                   and len(collectors["shard-b"].payloads) == n)
            await async_wait_until(lambda: len(collectors["shard-a1"].payloads)
                                   + len(collectors["shard-a2"].payloads) == n)
            got = {name: c.envelopes for name, c in collectors.items()}
            types = {name: {e.eventType for e in envs} for name, envs in got.items()}
            assert len(got["logs"]) == 20 and types["logs"] == {V1.LogMessage}
            assert len(got["metrics"]) == 100 and V1.LogMessage not in types["metrics"]
            # The log, the HttpStartStop (its applicationId) and the container metric are the app's.
            assert types["app"] == {V1.LogMessage, V1.HttpStartStop, V1.ContainerMetric}
            assert len(got["app"]) == 60
            assert types["app-logs"] == {V1.LogMessage} and len(got["app-logs"]) == 20
            assert types["app-metrics"] == {V1.HttpStartStop, V1.ContainerMetric}
            assert got["other-app"] == []
            # Value metrics, counters and errors belong to the app "system".
            assert types["system"] == {V1.ValueMetric, V1.CounterEvent, V1.Error}
            assert len(got["system"]) == 60
            # A shard group shares one copy of each envelope; it is split between its members.
            halves = collectors["shard-a1"].payloads, collectors["shard-a2"].payloads
            assert sorted(halves[0] + halves[1]) == sorted(payloads)

    run(body())


def test_bad_payloads_are_skipped_counted_and_the_stream_goes_on(pki):
    async def body():
        async with router_and_channel(pki) as (router, ch):
            firehose = V1Collector(ch, subscription())
            await firehose.ready()
            good = [e.SerializeToString() for e in every_v1_kind()[:2]]
            no_event_type = V1(origin="o").SerializePartialToString()
            await push(ch, [good[0], b"\xff\xff not proto", no_event_type, good[1]])
            # A raw EnvelopeData that is not a valid message is skipped the same way.
            pusher = ch.stream_unary("/plumbing.DopplerIngestor/Pusher",
                                     request_serializer=identity, response_deserializer=identity)
            await pusher(iter([b"\x0a\x05ab",
                                doppler_pb2.EnvelopeData(payload=good[0]).SerializeToString()]))
            await async_wait_until(lambda: len(firehose.payloads) == 3)
            assert firehose.payloads == [good[0], good[1], good[0]]
            assert router.v1.malformed.value == 3
            assert router.ingress_count.value == 3

    run(body())


def test_a_stalled_v1_subscriber_drops_oldest_counted_and_others_get_all(pki):
    async def body():
        async with router_and_channel(pki, egress_buffer_size=50) as (router, ch):
            stalled_ch = channel(pki, router.address, "doppler")
            stalled = doppler_pb2_grpc.DopplerStub(stalled_ch).BatchSubscribe(subscription())
            await stalled.initial_metadata()
            reader = V1Collector(ch, subscription())
            await reader.ready()
            big = every_v1_kind()[0]
            big.logMessage.message = b"x" * 10_000
            payload = big.SerializeToString()
            total = 0
            for _ in range(40):
                await push(ch, [payload] * 100)
                total += 100
                await async_wait_until(lambda: len(reader.payloads) == total)
                if router.dropped_egress.value:
                    break
            assert router.dropped_egress.value > 0
            streams = sorted(router.v1.doppler.streams.values(), key=lambda s: s.id)
            assert streams[0].dropped == router.dropped_egress.value
            assert streams[1].dropped == 0
            stalled.cancel()
            await stalled_ch.close()
            await async_wait_until(lambda: router.subscriptions.value == 1)

    run(body(), timeout=60)


def test_batches_are_split_under_the_message_limit_and_a_too_large_one_is_counted(pki):
    async def body():
        async with router_and_channel(pki) as (router, ch):
            reader = V1Collector(ch, subscription())
            await reader.ready()
            big = every_v1_kind()[0]
            big.logMessage.message = b"y" * (4 << 20)
            fits = big.SerializeToString()
            big.logMessage.message = b"z" * (11 << 20)
            too_large = big.SerializeToString()
            # Published in one go, so one take from the buffer holds ~23 MB.
            router.v1.router.publish_batch([(p, APP_ID, 1) for p in (fits, too_large, fits, fits)])
            await async_wait_until(lambda: len(reader.payloads) == 3)
            assert reader.payloads == [fits] * 3
            assert reader.messages == 2  # 4 + 4 MB, then 4 MB: each under 10 MiB
            await async_wait_until(lambda: router.dropped_egress.value == 1)

    run(body())


def test_a_malformed_subscription_request_is_invalid_argument(pki):
    async def body():
        async with router_and_channel(pki) as (router, ch):
            rpc = ch.unary_stream("/plumbing.Doppler/BatchSubscribe",
                                  request_serializer=identity, response_deserializer=identity)
            call = rpc(b"\x12\x03\x0a\x01\xff")  # filter.appID = b"\xff": not UTF-8
            try:
                async for _ in call:
                    pass
            except grpc.aio.AioRpcError as exc:
                assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
            else:
                raise AssertionError("the stream should have failed")
            assert router.subscriptions.value == 0
            # The router goes on serving.
            ok = V1Collector(ch, subscription())
            await ok.ready()
            await send(ch, [log_envelope(0, source_id=APP_ID)])
            await async_wait_until(lambda: len(ok.payloads) == 1)

    run(body())
