"""The log cache against hostile queries (issue 10, findings 5 and 6), over real HTTP and mTLS gRPC.

- Pathological regexes (``(\\w+)+!`` and friends) against 100,000-character names and label values
  answer the right envelopes and series: RE2 matches in linear time (lgr.core.regex). Python's
  backtracking ``re`` takes minutes on each; these tests are bounded by the pytest timeout, and
  assert only the answers.
- A query nested past the parser's bound is a 400 ``bad_data`` (gRPC INVALID_ARGUMENT) naming the
  bound, with no traceback; an unknown token is refused before the query is parsed.
- A query longer than QUERY_TIMEOUT ends with the timeout error, and other requests are served
  while it runs.
"""

from __future__ import annotations

import asyncio

import grpc
import pytest

from lgr.core import envelope
from lgr.core._proto.logcache.v1 import egress_pb2, egress_pb2_grpc, promql_pb2, promql_pb2_grpc
from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.apps.cache.promql_parser import MAX_DEPTH, TOO_DEEP
from tests.conftest import async_wait_until
from tests.core.apps.cache_support import NS, T0, put, running_cache
from tests.core.apps.firehose_support import run
from tests.core.apps.test_cache_grpc import grpc_cache
from tests.core.apps.test_cache_http import batch

pytestmark = pytest.mark.timeout(90)

LONG = "a" * 100_000
SID = "app"
AT = str(T0 // NS + 5)

# pattern -> which of the named metrics it keeps (counter LONG, timer LONG + "b", gauge "cpu")
NAME_FILTERS = {
    r"(\w+)+!": [],
    r"(a*)*b": ["timer"],
    r"(a|aa)+$": ["counter"],
    r"((a+)+)+c": [],
    r"^(a|a?)+$": ["counter"],
    r"cpu|(a+)+b$": ["timer", "gauge"],
}


def long_named() -> list[envelope_pb2.Envelope]:
    return [envelope.counter(LONG, total=1, source_id=SID, timestamp=T0 + 1 * NS),
            envelope.timer(LONG + "b", 0, 5, source_id=SID, timestamp=T0 + 2 * NS),
            envelope.gauge({"cpu": (1.0, "percent")}, source_id=SID, timestamp=T0 + 3 * NS)]


def kinds(batch: list[envelope_pb2.Envelope]) -> list[str]:
    return [e.WhichOneof("message") for e in batch]


@pytest.mark.parametrize(("pattern", "kept"), list(NAME_FILTERS.items()))
def test_pathological_name_filters_answer_right_over_http_and_grpc(pki, tmp_path, pattern, kept):
    async def body():
        async with grpc_cache(pki, tmp_path) as (api, ch):
            put(api.cache, long_named())
            params = {"name_filter": pattern, "start_time": T0, "end_time": T0 + 10 * NS}
            assert kinds(batch(await api.get(f"/api/v1/read/{SID}", params))) == kept
            got = await egress_pb2_grpc.EgressStub(ch).Read(egress_pb2.ReadRequest(
                source_id=SID, start_time=T0, end_time=T0 + 10 * NS, name_filter=pattern), timeout=30)
            assert kinds(list(got.envelopes.batch)) == kept

    run(body(), timeout=80)


# label matcher -> the instance ids it selects; labels: path LONG (i0), LONG + "!" (i1), "x" (i2)
LABEL_MATCHERS = {
    'path=~"(a|aa)+"': ["i0"],
    'path=~"(a*)*b"': [],
    'path!~"(\\\\w+)+!"': ["i0", "i2"],
    'path=~"(a+)+!?"': ["i0", "i1"],
    'path!~"((a+)+)+"': ["i1", "i2"],
}


@pytest.mark.parametrize(("matcher", "instances"), list(LABEL_MATCHERS.items()))
def test_pathological_promql_regexes_answer_right_over_http_and_grpc(pki, tmp_path, matcher, instances):
    async def body():
        async with grpc_cache(pki, tmp_path) as (api, ch):
            put(api.cache, [envelope.counter("requests", total=7, source_id=SID, instance_id=f"i{n}",
                                             tags={"path": path}, timestamp=T0 + NS)
                            for n, path in enumerate((LONG, LONG + "!", "x"))])
            q = f'requests{{source_id="{SID}", {matcher}}}'
            r = await api.get("/api/v1/query", {"query": q, "time": AT})
            assert r.status_code == 200, r.text
            got = sorted(s["metric"]["instance_id"] for s in r.json()["data"]["result"])
            assert got == instances
            answer = await promql_pb2_grpc.PromQLQuerierStub(ch).InstantQuery(
                promql_pb2.PromQL.InstantQueryRequest(query=q, time=AT), timeout=30)
            assert sorted(s.metric["instance_id"] for s in answer.vector.samples) == instances

    run(body(), timeout=80)


DEEP = {
    "parentheses": "(" * 250 + f'requests{{source_id="{SID}"}}' + ")" * 250,
    "unary minus": "-" * 400 + "1",
    "nested sum": "sum(" * 250 + f'requests{{source_id="{SID}"}}' + ")" * 250,
    "long chain": " + ".join([f'requests{{source_id="{SID}"}}'] * 300),
    "unclosed": "(" * 100_000,
}


@pytest.mark.parametrize("shape", list(DEEP))
def test_deep_nesting_is_bad_data_without_a_traceback(pki, tmp_path, shape):
    async def body():
        async with grpc_cache(pki, tmp_path) as (api, ch):
            put(api.cache, [envelope.counter("requests", total=1, source_id=SID, timestamp=T0 + NS)])
            query = DEEP[shape]
            if len(query) < 4000:  # what fits in a URL; the gRPC API takes the long one
                r = await api.get("/api/v1/query", {"query": query, "time": AT})
                assert r.status_code == 400
                assert r.json() == {"status": "error", "errorType": "bad_data", "error": TOO_DEEP}
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await promql_pb2_grpc.PromQLQuerierStub(ch).InstantQuery(
                    promql_pb2.PromQL.InstantQueryRequest(query=query, time=AT), timeout=30)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert err.value.details() == TOO_DEEP
            ok = await api.get("/api/v1/query", {"query": f'requests{{source_id="{SID}"}}', "time": AT})
            assert ok.status_code == 200  # and the cache serves on

    run(body())


def test_nesting_up_to_the_bound_is_answered(tmp_path):
    async def body():
        async with running_cache(tmp_path) as api:
            put(api.cache, [envelope.counter("requests", total=3, source_id=SID, timestamp=T0 + NS)])
            levels = MAX_DEPTH - 1  # the selector itself is one level
            query = "(" * levels + f'requests{{source_id="{SID}"}}' + ")" * levels
            r = await api.get("/api/v1/query", {"query": query, "time": AT})
            assert r.status_code == 200, r.text
            assert [s["value"][1] for s in r.json()["data"]["result"]] == ["3"]
            r = await api.get("/api/v1/query", {"query": "(" + query + ")", "time": AT})
            assert r.status_code == 400 and r.json()["error"] == TOO_DEEP

    run(body())


def test_an_unknown_token_is_refused_before_the_query_is_parsed(tmp_path):
    async def body():
        async with running_cache(tmp_path) as api:
            refused = api.cache.authorizer.failures("gateway", "invalid_token")
            for query in (DEEP["parentheses"], "not ( promql", f'requests{{source_id="{SID}"}}'):
                r = await api.get("/api/v1/query", {"query": query, "time": AT}, token="bogus")
                assert (r.status_code, r.content) == (404, b"")
            assert api.cache.authorizer.failures("gateway", "invalid_token") == refused + 3
            r = await api.get("/api/v1/query", {"query": "not ( promql", "time": AT}, token="reader")
            assert r.status_code == 400 and r.json()["errorType"] == "bad_data"  # a known token

    run(body())


def test_query_timeout_ends_a_long_query_and_others_are_served_meanwhile(tmp_path):
    async def body():
        async with running_cache(tmp_path, query_timeout=2.0) as api:
            # 60,000 counter samples over 600 instances: each of 11,000 steps rates 600 series.
            put(api.cache, [envelope.counter("requests", total=n, source_id=SID,
                                             instance_id=str(n % 600), timestamp=T0 + (n // 600) * NS)
                            for n in range(60_000)])
            start = T0 // NS
            query = asyncio.ensure_future(api.get("/api/v1/query_range", {
                "query": f'sum(rate(requests{{source_id="{SID}"}}[5m]))', "start": str(start),
                "end": str(start + 10_999), "step": "1"}))
            await async_wait_until(lambda: api.cache.store.egress > 0 or query.done(), timeout=20)
            # The cache sets the query's duration once it has answered; until then it is 0.
            running = api.cache.m.range_query_time
            served = 0
            while not query.done():
                info = await api.get("/api/v1/info", token=None)
                assert info.status_code == 200
                served += running.value == 0  # answered while the cache was still on the query
            r = await query
            assert r.status_code == 500
            assert r.json()["error"] == "query timed out in expression evaluation"
            assert served > 0

    run(body(), timeout=80)
