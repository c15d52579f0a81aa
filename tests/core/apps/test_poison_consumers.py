"""Issue 10, finding 1, consumer side: an upstream that sends a batch holding an envelope that does
not parse (here a fake rlp / router over real mTLS gRPC, sending raw bytes) costs each consumer
that envelope only: the good envelopes of the batch and every later batch arrive, and the bad one
is counted."""

from __future__ import annotations

import types

from lgr.core import envelope as E
from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.apps.cache.app import Cache
from lgr.core.apps.gateway.app import Gateway
from lgr.core.apps.rlp.app import Rlp
from lgr.core.apps.tc.frames import FrameEncoder
from lgr.core.apps.tc.metrics import TcMetrics
from lgr.core.apps.tc.recent import RecentStore
from lgr.core.clients.egress import EgressClient, describe_event, egress_request
from lgr.core.metrics import Registry
from lgr.core.salvage import EnvelopesMalformed
from lgr.core import tls
from tests.conftest import async_wait_until
from tests.core.apps.cache_support import NS, T0, cache_config, nozzle_overrides
from tests.core.apps.firehose_support import TIMEOUT, rlp_config, run, started
from tests.core.apps.gateway_support import Tokens, gateway_config, https_client, sse
from tests.core.clients.fakes import FakeEgress, serve
from tests.poison import poison_tag_envelope


def line(i: int, source_id: str = "app-1") -> envelope_pb2.Envelope:
    return E.log(f"line {i}", source_id=source_id, timestamp=T0 + i * NS)


def mixed_batch(*envs: envelope_pb2.Envelope) -> bytes:
    """A batch of ``envs`` with the issue's poison envelope in second place."""
    data = [env.SerializeToString() for env in envs]
    return E.join_batch([data[0], poison_tag_envelope("app-1"), *data[1:]])


SCRIPT = [[line(0)], mixed_batch(line(1), line(2)), [line(3)]]
WANT = [b"line 0", b"line 1", b"line 2", b"line 3"]


def test_the_egress_client_yields_the_good_envelopes_and_reports_the_bad(pki):
    events: list[object] = []

    async def body():
        async with serve(FakeEgress([SCRIPT]), pki, "rlp") as port:
            client = EgressClient(f"127.0.0.1:{port}", tls.client_credentials(*pki.files("client")),
                                  egress_request(), on_event=events.append)
            got = []
            async for env in client.envelopes():
                got.append(env.log.payload)
                if len(got) == 4:
                    break
            assert got == WANT
            assert client.malformed == 1 and client.reconnects == 0
            (event,) = [e for e in events if isinstance(e, EnvelopesMalformed)]
            assert (event.delta, event.total) == (1, 1)
            assert "skipped 1 envelopes" in describe_event(event, f"127.0.0.1:{port}")

    run(body())


def test_regression_issue10_finding1_the_cache_nozzle_keeps_reading(pki, tmp_path):
    """The nozzle died on such a batch (AttributeError), and `lgr up` with it."""

    async def body():
        async with serve(FakeEgress([SCRIPT]), pki, "rlp") as port:
            cache = Cache(cache_config(tmp_path / "tokens.json",
                                       **nozzle_overrides(pki, f"127.0.0.1:{port}")))
            async with started(cache):
                await async_wait_until(lambda: cache.store.size == 4, timeout=TIMEOUT)
                stored = [envelope_pb2.Envelope.FromString(d).log.payload
                          for d in cache.store.read("app-1", 0, 1 << 62, limit=10)]
                assert stored == WANT
                assert cache.m.malformed.value == 1
                assert cache.m.nozzle_ingress.value == 4
                assert cache.m.nozzle_errors.value == 0  # the stream never broke
                assert "malformed 1" in cache.metrics.render_prometheus()

    run(body())


def test_gateway_sse_clients_get_the_good_envelopes_and_later_batches(pki, tmp_path):
    async def body():
        toks = Tokens.make(tmp_path / "tokens.json")
        async with serve(FakeEgress([SCRIPT]), pki, "rlp") as port:
            gateway = Gateway(gateway_config(pki, f"127.0.0.1:{port}", toks.path))
            async with started(gateway), https_client(pki) as client:
                stack = types.SimpleNamespace(
                    client=client, url=f"https://127.0.0.1:{gateway.port}/v2/read")
                async with sse(stack, [("source_id", "app-1"), ("log", "")], toks.reader) as reader:
                    await async_wait_until(lambda: len(reader.envelopes()) == 4, timeout=TIMEOUT)
                    assert [env.log.payload for env in reader.envelopes()] == WANT
                    assert not reader.ended.is_set()  # the stream goes on
            assert gateway.m.malformed.value == 1
            assert gateway.m.ingress.value == 4

    run(body())


def test_the_traffic_controllers_recent_logs_store_keeps_the_good_envelopes():
    """Its websockets pass the routers' v1 payloads through unparsed; its recent-logs store reads
    v2 batches, keeps the good envelopes and counts the bad."""
    metrics = TcMetrics(Registry())
    store = RecentStore(10, 10, FrameEncoder(metrics))
    store.accept(mixed_batch(line(1), line(2)))
    assert len(store.recent_logs("app-1")) == 2
    assert metrics.malformed.value == 1
    store.accept(b"\x0a\x10short")  # framing broken: nothing to salvage, counted as one
    assert metrics.malformed.value == 2


def test_the_rlp_keeps_the_good_envelopes_of_a_batch_it_must_rewrite(pki):
    """A consumer that asks for preferred tags makes the rlp parse a batch with deprecated tags:
    the fake router's mixed batch loses its bad envelope only, counted in the rlp's malformed."""
    deprecated = line(2)
    deprecated.deprecated_tags["job"].text = "cell"
    script = [[line(0)], mixed_batch(line(1), deprecated), [line(3)]]

    async def body():
        async with serve(FakeEgress([script]), pki, "router") as port:
            rlp = Rlp(rlp_config(pki, [f"127.0.0.1:{port}"]))
            async with started(rlp):
                client = EgressClient(rlp.address, tls.client_credentials(*pki.files("client")),
                                      egress_request(use_preferred_tags=True))
                got = []
                async for env in client.envelopes():
                    got.append(env)
                    if len(got) == 4:
                        break
                assert [env.log.payload for env in got] == WANT
                assert got[2].tags["job"] == "cell" and not got[2].deprecated_tags
                assert client.malformed == 0  # the rlp kept the bad one from its consumers
                assert rlp.m.malformed.value == 1

    run(body())
