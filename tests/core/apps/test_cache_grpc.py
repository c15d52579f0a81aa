"""The log cache's gRPC API (upstream's logcache.v1 services) over real mTLS gRPC.

The same store answers both APIs, so reads and PromQL are checked here against the HTTP API's
answers and against values computed by hand (the PromQL fixture of test_cache_promql).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from lgr.core import envelope
from lgr.core._proto.logcache.v1 import egress_pb2, egress_pb2_grpc, ingress_pb2, ingress_pb2_grpc
from lgr.core._proto.logcache.v1 import promql_pb2, promql_pb2_grpc
from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.apps.cache.app import Cache
from lgr.core.errors import ConfigError
from lgr.core.grpc_server import identity
from tests.core.apps.cache_support import NS, T0, Api, cache_config, put, running_cache
from tests.core.apps.firehose_support import channel, run
from tests.core.apps.test_cache_promql import AT, SID, fixture_envelopes, labels

PromQL = promql_pb2.PromQL


def grpc_overrides(pki: Any) -> dict[str, str]:
    ca, cert, key = pki.files("cache")
    return {"grpc_addr": "127.0.0.1:0", "ca_path": str(ca), "cert_path": str(cert),
            "key_path": str(key)}


@contextlib.asynccontextmanager
async def grpc_cache(pki: Any, tmp_path: Any, rogue: bool = False
                     ) -> AsyncIterator[tuple[Api, grpc.aio.Channel]]:
    """A running cache with its gRPC API on, its HTTP client, and an mTLS channel to the gRPC API."""
    async with running_cache(tmp_path, **grpc_overrides(pki)) as api:
        assert api.cache.grpc_address is not None
        ch = channel(pki, api.cache.grpc_address, "log-cache", rogue=rogue)
        try:
            yield api, ch
        finally:
            await ch.close()


def logs(n: int, source_id: str = "app", start: int = T0) -> list[envelope_pb2.Envelope]:
    return [envelope.log(f"line {i}", source_id=source_id, instance_id="0", timestamp=start + i * NS)
            for i in range(n)]


def test_sent_envelopes_are_read_back_with_every_field(pki, tmp_path):
    async def body():
        async with grpc_cache(pki, tmp_path) as (api, ch):
            sent = [*logs(3), envelope.counter("requests", total=7, source_id="app", timestamp=T0 + 5 * NS),
                    envelope.gauge({"cpu": (1.5, "percentage")}, source_id="app", timestamp=T0 + 6 * NS)]
            await ingress_pb2_grpc.IngressStub(ch).Send(ingress_pb2.SendRequest(
                envelopes=envelope_pb2.EnvelopeBatch(batch=sent)), timeout=10)
            egress = egress_pb2_grpc.EgressStub(ch)
            got = await egress.Read(egress_pb2.ReadRequest(source_id="app", start_time=T0), timeout=10)
            assert list(got.envelopes.batch) == sent
            meta = await egress.Meta(egress_pb2.MetaRequest(), timeout=10)
            assert set(meta.meta) == {"app"}
            assert (meta.meta["app"].count, meta.meta["app"].expired) == (5, 0)
            assert (meta.meta["app"].oldest_timestamp, meta.meta["app"].newest_timestamp) == \
                (T0, T0 + 6 * NS)
            # What Send stored, the HTTP API reads too.
            r = await api.get("/api/v1/read/app", {"start_time": T0})
            assert len(r.json()["envelopes"]["batch"]) == 5

    run(body())


def test_read_parameters_select_as_the_http_api_does(pki, tmp_path):
    async def body():
        async with grpc_cache(pki, tmp_path) as (api, ch):
            put(api.cache, [*logs(20), envelope.counter("requests", total=1, source_id="app",
                                                        timestamp=T0 + 30 * NS),
                            envelope.counter("errors", total=2, source_id="app",
                                             timestamp=T0 + 31 * NS)])
            read = egress_pb2_grpc.EgressStub(ch).Read
            cases = [
                (dict(start_time=T0 + 2 * NS, end_time=T0 + 5 * NS),
                 {"start_time": T0 + 2 * NS, "end_time": T0 + 5 * NS}),
                (dict(start_time=T0, limit=4, descending=True),
                 {"start_time": T0, "limit": 4, "descending": "true"}),
                (dict(start_time=T0, envelope_types=[egress_pb2.COUNTER]),
                 {"start_time": T0, "envelope_types": "COUNTER"}),
                (dict(start_time=T0, name_filter="^err"), {"start_time": T0, "name_filter": "^err"}),
                (dict(start_time=T0), {"start_time": T0}),  # limit 0: 100
            ]
            for fields, params in cases:
                got = await read(egress_pb2.ReadRequest(source_id="app", **fields), timeout=10)
                http = (await api.get("/api/v1/read/app", params)).json()["envelopes"]["batch"]
                assert [e.timestamp for e in got.envelopes.batch] == \
                    [int(e["timestamp"]) for e in http], fields
            descending = await read(egress_pb2.ReadRequest(source_id="app", start_time=T0, limit=4,
                                                           descending=True), timeout=10)
            assert [e.timestamp for e in descending.envelopes.batch] == \
                [T0 + 31 * NS, T0 + 30 * NS, T0 + 19 * NS, T0 + 18 * NS]
            errors = await read(egress_pb2.ReadRequest(source_id="app", name_filter="^err"), timeout=10)
            assert [e.counter.name for e in errors.envelopes.batch] == ["errors"]
            nothing = await read(egress_pb2.ReadRequest(source_id="unknown"), timeout=10)
            assert not nothing.HasField("envelopes") or not nothing.envelopes.batch

    run(body())


@pytest.mark.parametrize(("fields", "message"), [
    (dict(limit=1001), "Limit (1001) must be 1000 or less"),
    (dict(limit=-1), "Limit (-1) must be greater than zero"),
    (dict(start_time=20, end_time=10), "StartTime (20) must be before EndTime (10)"),
    (dict(name_filter="("), "Name filter must be a valid regular expression"),
])
def test_refused_reads_end_with_upstreams_message_and_the_cache_serves_on(pki, tmp_path, fields, message):
    async def body():
        async with grpc_cache(pki, tmp_path) as (api, ch):
            put(api.cache, logs(1))
            read = egress_pb2_grpc.EgressStub(ch).Read
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await read(egress_pb2.ReadRequest(source_id="app", **fields), timeout=10)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # upstream: UNKNOWN
            assert message in err.value.details()
            got = await read(egress_pb2.ReadRequest(source_id="app"), timeout=10)
            assert len(got.envelopes.batch) == 1

    run(body())


def test_a_malformed_request_is_invalid_argument(pki, tmp_path):
    async def body():
        async with grpc_cache(pki, tmp_path) as (api, ch):
            for method in ("/logcache.v1.Egress/Read", "/logcache.v1.Ingress/Send",
                           "/logcache.v1.PromQLQuerier/InstantQuery"):
                rpc = ch.unary_unary(method, request_serializer=identity, response_deserializer=identity)
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await rpc(b"\x0a\xff\xff", timeout=10)
                assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, method
                assert "malformed" in err.value.details()
            meta = await egress_pb2_grpc.EgressStub(ch).Meta(egress_pb2.MetaRequest(), timeout=10)
            assert dict(meta.meta) == {}

    run(body())


def test_instant_queries_answer_scalars_vectors_and_matrices(pki, tmp_path):
    async def body():
        async with grpc_cache(pki, tmp_path) as (api, ch):
            put(api.cache, fixture_envelopes())
            query = promql_pb2_grpc.PromQLQuerierStub(ch).InstantQuery
            rate = await query(PromQL.InstantQueryRequest(
                query=f'rate(requests{{source_id="{SID}"}}[30s])', time=AT), timeout=10)
            assert rate.WhichOneof("Result") == "vector"
            by_instance = {s.metric["instance_id"]: s.point.value for s in rate.vector.samples}
            assert by_instance == pytest.approx({"0": 1.0, "1": 2.0, "2": 0.75, "3": 0.9})
            assert {s.point.time for s in rate.vector.samples} == {"1700000035.000"}
            assert dict(rate.vector.samples[0].metric) == labels("0")
            total = await query(PromQL.InstantQueryRequest(
                query=f'sum(rate(requests{{source_id="{SID}"}}[30s]))', time=AT), timeout=10)
            assert [(dict(s.metric), s.point.value) for s in total.vector.samples] == \
                [({}, pytest.approx(4.65))]
            scalar = await query(PromQL.InstantQueryRequest(query="1 + 2", time=AT), timeout=10)
            assert (scalar.WhichOneof("Result"), scalar.scalar.time, scalar.scalar.value) == \
                ("scalar", "1700000035.000", 3.0)
            matrix = await query(PromQL.InstantQueryRequest(
                query=f'cpu_percent{{source_id="{SID}"}}[30s]', time=AT), timeout=10)
            assert matrix.WhichOneof("Result") == "matrix"
            (series,) = matrix.matrix.series
            assert dict(series.metric) == labels("0")
            assert [(p.time, p.value) for p in series.points] == [
                ("1700000010.000", 1.5), ("1700000020.000", 2.5), ("1700000030.000", 3.5)]
            empty = await query(PromQL.InstantQueryRequest(
                query=f'cpu_percent{{source_id="{SID}"}}', time=str(T0 // NS + 331)), timeout=10)
            assert empty.WhichOneof("Result") == "vector" and not empty.vector.samples

    run(body())


def test_range_queries_answer_a_matrix_point_per_step(pki, tmp_path):
    async def body():
        async with grpc_cache(pki, tmp_path) as (api, ch):
            put(api.cache, fixture_envelopes())
            s = T0 // NS
            got = await promql_pb2_grpc.PromQLQuerierStub(ch).RangeQuery(PromQL.RangeQueryRequest(
                query=f'cpu_percent{{source_id="{SID}"}}', start=str(s + 10), end=str(s + 40),
                step="10s"), timeout=10)
            (series,) = got.matrix.series
            assert dict(series.metric) == labels("0")
            assert [(p.time, p.value) for p in series.points] == [
                (f"{s + 10}.000", 1.5), (f"{s + 20}.000", 2.5), (f"{s + 30}.000", 3.5),
                (f"{s + 40}.000", 3.5)]

    run(body())


@pytest.mark.parametrize(("method", "request_", "message"), [
    ("InstantQuery", PromQL.InstantQueryRequest(query='rate(requests{source_id="app-1"}'), "expected ')'"),
    ("InstantQuery", PromQL.InstantQueryRequest(query='requests{source_id="app-1"}', time="soon"),
     "cannot parse 'soon' to a valid Unix or RFC3339 timestamp"),
    ("RangeQuery", PromQL.RangeQueryRequest(query='requests{source_id="app-1"}', start="1", end="2",
                                            step="x"),
     "couldn't parse step: cannot parse 'x' to a valid step"),
])
def test_query_errors_end_the_call_with_the_message(pki, tmp_path, method, request_, message):
    async def body():
        async with grpc_cache(pki, tmp_path) as (api, ch):
            stub = promql_pb2_grpc.PromQLQuerierStub(ch)
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await getattr(stub, method)(request_, timeout=10)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # upstream: UNKNOWN
            assert message in err.value.details()

    run(body())


def test_a_client_without_a_ca_signed_certificate_is_refused(pki, tmp_path):
    async def body():
        async with grpc_cache(pki, tmp_path, rogue=True) as (api, ch):
            put(api.cache, logs(1))
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await egress_pb2_grpc.EgressStub(ch).Read(egress_pb2.ReadRequest(source_id="app"),
                                                          timeout=10)
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE

    run(body())


def test_the_grpc_api_is_off_unless_asked_and_needs_its_certificates(pki, tmp_path):
    async def body():
        async with running_cache(tmp_path) as api:
            assert api.cache.grpc_address is None

    run(body())
    with pytest.raises(ConfigError) as err:
        Cache(cache_config(grpc_addr="127.0.0.1:0"))
    text = str(err.value) + " ".join(getattr(err.value, "problems", []))
    for env in ("CA_PATH", "CERT_PATH", "KEY_PATH"):
        assert f"{env} is required when LGR_CACHE_GRPC_ADDR is set" in text


def test_a_read_page_fits_in_one_grpc_message_and_the_next_read_goes_on(pki, tmp_path):
    """Three 4 MiB logs do not fit in one 10 MiB response: the page ends before the third
    (issue 10, finding 4), and reading on from the last timestamp returns it."""
    async def body():
        async with grpc_cache(pki, tmp_path) as (api, ch):
            big = [envelope.log(b"x" * (4 << 20), source_id="big", timestamp=T0 + i * NS)
                   for i in range(3)]
            put(api.cache, big)
            egress = egress_pb2_grpc.EgressStub(ch)
            first = await egress.Read(egress_pb2.ReadRequest(source_id="big", start_time=T0),
                                      timeout=10)
            assert [e.timestamp for e in first.envelopes.batch] == [T0, T0 + NS]
            rest = await egress.Read(egress_pb2.ReadRequest(
                source_id="big", start_time=T0 + NS + 1), timeout=10)
            assert [e.timestamp for e in rest.envelopes.batch] == [T0 + 2 * NS]

    run(body())


def test_a_send_holding_an_envelope_that_does_not_parse_is_refused_whole_and_counted(pki, tmp_path):
    from lgr.core import envelope
    from tests.poison import poison_tag_envelope

    good = envelope.log("good", source_id="app").SerializeToString()
    batch = envelope.join_batch([good, poison_tag_envelope("app")])
    request = b"\x0a" + bytes([len(batch)]) + batch  # SendRequest{envelopes: batch}

    async def body():
        async with grpc_cache(pki, tmp_path) as (api, ch):
            send = ch.unary_unary("/logcache.v1.Ingress/Send", request_serializer=identity,
                                  response_deserializer=identity)
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await send(request, timeout=10)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert api.cache.m.malformed.value == 1
            assert api.cache.store.size == 0

    run(body())
