"""The cache's nozzle: filled from a test Egress server (mTLS) and from a real router and RLP."""

from __future__ import annotations

import grpc

from lgr.core import drops, envelope
from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.apps.cache import nozzle
from lgr.core.apps.cache.app import Cache
from tests.conftest import async_wait_until
from tests.core.apps.cache_support import NS, T0, cache_config, cache_stack, nozzle_overrides
from tests.core.apps.firehose_support import TIMEOUT, channel, run, send, started
from tests.core.apps.test_router import every_kind
from tests.core.clients.fakes import FakeEgress, serve


def logs(n: int, source_id: str = "app-1", start: int = T0) -> list[envelope_pb2.Envelope]:
    return [envelope.log(f"line {i}", source_id=source_id, timestamp=start + i * NS) for i in range(n)]


def stored(cache: Cache, source_id: str) -> list[envelope_pb2.Envelope]:
    return [envelope_pb2.Envelope.FromString(d) for d in cache.store.read(source_id, 0, 1 << 62, limit=1000)]


def test_the_nozzle_asks_for_every_type_with_its_shard_id_and_reconnects(pki, tmp_path):
    first, second = logs(3), logs(2, start=T0 + 10 * NS)
    report = drops.report("reverse_log_proxy", delta=7, total=7)
    fake = FakeEgress([[first + [report], (grpc.StatusCode.UNAVAILABLE, "rlp restarting")], [second]])

    async def body():
        async with serve(fake, pki, "rlp") as port:
            cache = Cache(cache_config(tmp_path / "tokens.json", shard_id="group-a",
                                       **nozzle_overrides(pki, f"127.0.0.1:{port}")))
            async with started(cache):
                await async_wait_until(lambda: cache.store.size == 5, timeout=TIMEOUT)
                assert stored(cache, "app-1") == first + second
                request = fake.requests[0]
                assert request.shard_id == "group-a" and request.use_preferred_tags
                assert [s.WhichOneof("Message") for s in request.selectors] == \
                    ["log", "counter", "gauge", "timer", "event"]
                assert all(s.source_id == "" for s in request.selectors)
                assert len(fake.requests) == 2  # it came back after UNAVAILABLE
                assert cache.m.nozzle_ingress.value == 5
                assert cache.m.dropped.value == 7  # the rlp's drop report for the nozzle's stream
                assert cache.m.nozzle_errors.value >= 1
                assert cache.m.ingress.value == 5

    run(body())


def test_a_nozzle_that_cannot_handshake_keeps_retrying_and_the_cache_stays_up(pki, tmp_path, monkeypatch):
    monkeypatch.setattr(nozzle, "CONNECT_TIMEOUT", 0.2)
    monkeypatch.setattr(nozzle, "FATAL_RETRY", (0.05, 0.1))

    async def body():
        # The server's certificate comes from another CA: the handshake fails every time.
        async with serve(FakeEgress(), pki.rogue, "router") as port:
            cache = Cache(cache_config(tmp_path / "tokens.json", **nozzle_overrides(pki, f"127.0.0.1:{port}")))
            async with started(cache):
                await async_wait_until(lambda: cache.m.nozzle_errors.value >= 2, timeout=TIMEOUT)
                assert cache.error is None and cache._stopping is None
                assert cache.store.size == 0

    run(body())


def test_envelopes_sent_to_a_router_reach_the_cache_through_the_rlp(pki, tmp_path):
    async def body():
        async with cache_stack(pki, tmp_path) as stack:
            await async_wait_until(lambda: len(stack.router.egress.streams) == 1, timeout=TIMEOUT)
            ingress = channel(pki, stack.router.address, "doppler", name="agent")
            sent = every_kind("app-1") + logs(3, "app-2")
            await send(ingress, sent)
            await async_wait_until(lambda: stack.cache.store.size == len(sent), timeout=TIMEOUT)
            got = stored(stack.cache, "app-1")
            assert [e.WhichOneof("message") for e in got] == ["log", "counter", "gauge", "timer", "event"]
            assert got[0].tags["job"] == "cell"  # preferred tags: deprecated tags became tags
            assert stored(stack.cache, "app-2") == logs(3, "app-2")
            await ingress.close()

    run(body())
