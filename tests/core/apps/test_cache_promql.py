"""PromQL on a running cache over HTTP, every result checked against values computed by hand.

Envelopes sit half a second after whole seconds (T0 + 10.5 s, ...), so after log cache's
truncation to the second their samples are at T0+10, +20, +30 s, and a query at T0+35 s sees them.
"""

from __future__ import annotations

import pytest

from lgr.core import envelope
from lgr.core.apps.cache import promql_parser
from lgr.core.apps.cache.promql import format_value
from tests.core.apps.cache_support import NS, T0, put, running_cache
from tests.core.apps.firehose_support import run

SID = "app-1"
AT = f"{T0 // NS + 35}"  # query time: T0 + 35 s
TAGS = {"deployment": "cf"}


def at(seconds: int) -> int:
    return T0 + seconds * NS + NS // 2


def counters(instance: str, totals: list[int], name: str = "requests") -> list:
    return [envelope.counter(name, total=total, source_id=SID, instance_id=instance, tags=TAGS,
                             timestamp=at(s)) for s, total in zip((10, 20, 30), totals)]


def fixture_envelopes() -> list:
    return (counters("0", [10, 20, 30])          # 1/s
            + counters("1", [120, 140, 160])     # 2/s
            + counters("2", [50, 5, 15])         # reset between 10 s and 20 s
            + counters("3", [2, 12, 22])         # starts near zero: extrapolation stops at zero
            + [envelope.gauge({"cpu.percent": (v, "percentage"), "memory": (9.0, "bytes")}, source_id=SID,
                              instance_id="0", tags=TAGS, timestamp=at(s))
               for s, v in ((10, 1.5), (20, 2.5), (30, 3.5))]
            + [envelope.timer("http", 1_000, 5_001_000, source_id=SID, instance_id="0", tags=TAGS,
                              timestamp=at(30))]
            + [envelope.log("not a metric", source_id=SID, timestamp=at(30))])


def labels(instance: str) -> dict[str, str]:
    return {"deployment": "cf", "instance_id": instance, "source_id": SID}


async def query(api, q: str, time: str = AT, token: str | None = "admin"):
    return await api.get("/api/v1/query", {"query": q, "time": time}, token=token)


def vector(response, seconds: int = 35) -> dict[str, float]:
    """{instance_id (or the whole label set): value} of a vector answer, checking its shape."""
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["status"] == "success" and doc["data"]["resultType"] == "vector"
    out = {}
    for sample in doc["data"]["result"]:
        t, value = sample["value"]
        assert t == T0 // NS + seconds
        key = sample["metric"].get("instance_id", str(sorted(sample["metric"].items())))
        out[key] = float(value)
    return out


@pytest.mark.parametrize(("q", "expected"), [
    # rate over [30s] at 35 s: samples at 10, 20, 30 s; 5 s to each edge (< 1.1 × 10 s average), so
    # the 20 s sampled interval extrapolates to 30 s: increase = Δ × 30/20, rate = that / 30 s.
    ('rate(requests{source_id="app-1"}[30s])', {"0": 1.0, "1": 2.0, "2": 0.75, "3": 0.9}),
    # instance 2: Δ = 15 − 50 + 50 (reset) = 15 → 22.5; instance 3: zero is reached 2 s before the
    # first sample (20 × 2/20), closer than the 5 s edge: 20 × (20 + 2 + 5)/20 = 27.
    ('increase(requests{source_id="app-1"}[30s])', {"0": 30.0, "1": 60.0, "2": 22.5, "3": 27.0}),
    # [1m]: the start edge is 35 s away. Instance 1 (120 → 160) would reach zero 60 s back, so
    # only half an interval (5 s) is added: 40 × 30/20 / 60 s. Instance 0 (10 → 30) reaches zero
    # 10 s back, within 1.1 × 10 s: 20 × (20 + 10 + 5)/20 / 60 s.
    ('rate(requests{source_id="app-1", instance_id=~"0|1"}[1m])', {"0": 35 / 60, "1": 1.0}),
    ('requests{source_id="app-1", instance_id!="2"}', {"0": 30.0, "1": 160.0, "3": 22.0}),
    ('cpu_percent{source_id="app-1"}', {"0": 3.5}),
    ('http{source_id="app-1"}', {"0": 5_000_000.0}),
    ('avg_over_time(cpu_percent{source_id="app-1"}[30s])', {"0": 2.5}),
    ('max_over_time(cpu_percent{source_id="app-1"}[30s])', {"0": 3.5}),
    ('count_over_time(requests{source_id="app-1"}[30s])', {"0": 3.0, "1": 3.0, "2": 3.0, "3": 3.0}),
    ('cpu_percent{source_id="app-1"} / 2 + 1', {"0": 2.75}),
    ('requests{source_id="app-1", instance_id="1"} - requests{source_id="app-1", instance_id="1"}', {"1": 0.0}),
])
def test_instant_queries(tmp_path, q, expected):
    async def body():
        async with running_cache(tmp_path) as api:
            put(api.cache, fixture_envelopes())
            assert vector(await query(api, q)) == pytest.approx(expected)

    run(body())


def test_aggregations_group_as_prometheus_does(tmp_path):
    async def body():
        async with running_cache(tmp_path) as api:
            put(api.cache, fixture_envelopes())
            rate = 'rate(requests{source_id="app-1"}[30s])'
            r = await query(api, f"sum({rate})")
            assert r.content == (b'{"status":"success","data":{"resultType":"vector","result":'
                                 b'[{"metric":{},"value":[1700000035.000,"4.65"]}]}}\n')
            assert vector(await query(api, f"avg({rate})")) == pytest.approx({"[]": 1.1625})
            assert vector(await query(api, f"max({rate})")) == {"[]": 2.0}
            assert vector(await query(api, f"min({rate}) * 100")) == pytest.approx({"[]": 75.0})
            assert vector(await query(api, f"count({rate})")) == {"[]": 4.0}
            by = (await query(api, f"sum by (instance_id) ({rate})")).json()["data"]["result"]
            assert [(s["metric"], s["value"][1]) for s in by] == [
                ({"instance_id": "0"}, "1"), ({"instance_id": "1"}, "2"),
                ({"instance_id": "2"}, "0.75"), ({"instance_id": "3"}, "0.9")]
            without = (await query(api, f"sum without (instance_id) ({rate})")).json()["data"]["result"]
            assert [s["metric"] for s in without] == [{"deployment": "cf", "source_id": "app-1"}]
            by_after = await query(api, f'max({rate}) by (deployment)')
            assert (by_after.json()["data"]["result"][0]["metric"], vector(by_after)) == \
                ({"deployment": "cf"}, {str(sorted({"deployment": "cf"}.items())): 2.0})

    run(body())


def test_an_instant_selector_answers_exact_json_and_looks_back_five_minutes(tmp_path):
    async def body():
        async with running_cache(tmp_path) as api:
            put(api.cache, fixture_envelopes())
            r = await query(api, 'cpu_percent{source_id="app-1"}')
            assert r.headers["content-type"] == "application/json"
            assert r.content == (b'{"status":"success","data":{"resultType":"vector","result":[{"metric":'
                                 b'{"deployment":"cf","instance_id":"0","source_id":"app-1"},'
                                 b'"value":[1700000035.000,"3.5"]}]}}\n')
            at_330 = await query(api, 'cpu_percent{source_id="app-1"}', time=str(T0 // NS + 330))
            assert vector(at_330, 330) == {"0": 3.5}  # 300 s after the 30 s sample
            at_331 = await query(api, 'cpu_percent{source_id="app-1"}', time=str(T0 // NS + 331))
            assert at_331.json()["data"]["result"] == []

    run(body())


def test_a_range_selector_returns_the_raw_samples(tmp_path):
    async def body():
        async with running_cache(tmp_path) as api:
            put(api.cache, fixture_envelopes())
            r = await query(api, 'cpu_percent{source_id="app-1"}[30s]')
            doc = r.json()["data"]
            assert doc["resultType"] == "matrix"
            assert doc["result"] == [{"metric": labels("0"), "values": [
                [T0 // NS + 10, "1.5"], [T0 // NS + 20, "2.5"], [T0 // NS + 30, "3.5"]]}]

    run(body())


def test_range_queries_evaluate_every_step(tmp_path):
    async def body():
        async with running_cache(tmp_path) as api:
            put(api.cache, fixture_envelopes())
            params = {"query": 'cpu_percent{source_id="app-1"}', "start": str(T0 // NS + 10),
                      "end": str(T0 // NS + 40), "step": "10s"}
            r = await api.get("/api/v1/query_range", params)
            assert r.status_code == 200, r.text
            assert r.content.startswith(b'{"status":"success","data":{"resultType":"matrix","result":[')
            series = r.json()["data"]["result"]
            s = T0 // NS
            assert series == [{"metric": labels("0"), "values": [
                [s + 10, "1.5"], [s + 20, "2.5"], [s + 30, "3.5"], [s + 40, "3.5"]]}]
            params.update(query='sum(rate(requests{source_id="app-1"}[30s]))', start=str(s + 35),
                          end=str(s + 36), step="1")
            series = (await api.get("/api/v1/query_range", params)).json()["data"]["result"]
            assert series[0]["metric"] == {}
            assert [v for _, v in series[0]["values"]][0] == "4.65"

    run(body())


@pytest.mark.parametrize(("path", "params", "status", "kind", "message"), [
    ("/api/v1/query", {"query": "requests"}, 400, "bad_data", "query does not request any source_ids"),
    ("/api/v1/query", {"query": 'rate(requests{source_id="app-1"}'}, 400, "bad_data", "expected ')'"),
    ("/api/v1/query", {"query": 'rate(requests{source_id="app-1"})'}, 400, "bad_data",
     "expected type range vector in call to function 'rate', got instant vector"),
    ("/api/v1/query", {"query": 'requests{source_id="app-1"} + cpu'}, 400, "bad_data",
     "Metric 'cpu' does not have a 'source_id' label."),
    # A client's mistake is bad_data, as Prometheus's API answers it (upstream log cache: 500).
    ("/api/v1/query", {"query": 'requests{source_id="app-1"}', "time": "soon"}, 400, "bad_data",
     "cannot parse 'soon' to a valid Unix or RFC3339 timestamp"),
    ("/api/v1/query_range", {"query": 'requests{source_id="app-1"}', "start": "1", "end": "2", "step": "x"},
     400, "bad_data", "couldn't parse step: cannot parse 'x' to a valid step"),
    ("/api/v1/query_range", {"query": 'requests{source_id="app-1"}', "start": "", "end": "2", "step": "1"},
     400, "bad_data", "couldn't parse start: cannot parse '' to a valid Unix or RFC3339 timestamp"),
    ("/api/v1/query_range", {"query": 'requests{source_id="app-1"}', "start": "2", "end": "1", "step": "1"},
     400, "bad_data", "end timestamp must not be before start time"),
    ("/api/v1/query_range", {"query": 'requests{source_id="app-1"}', "start": "1", "end": "2", "step": "0"},
     400, "bad_data", "zero or negative query resolution step widths are not accepted"),
    ("/api/v1/query_range", {"query": 'requests{source_id="app-1"}[1m]', "start": "1", "end": "2", "step": "1"},
     400, "bad_data", 'invalid expression type "range vector" for range query'),
    ("/api/v1/query", {"query": 'requests{source_id="app-1", x=~"(a)\\1"}'}, 400, "bad_data",
     "invalid regular expression"),
])
def test_query_errors_are_prometheus_error_bodies(tmp_path, path, params, status, kind, message):
    async def body():
        async with running_cache(tmp_path) as api:
            r = await api.get(path, params)
            assert r.status_code == status
            doc = r.json()
            assert list(doc) == ["status", "errorType", "error"]
            assert (doc["status"], doc["errorType"]) == ("error", kind)
            assert doc["error"].startswith(message), doc["error"]

    run(body())


def test_queries_need_a_token_that_may_read_every_source(tmp_path):
    async def body():
        async with running_cache(tmp_path) as api:
            put(api.cache, fixture_envelopes())
            q = 'requests{source_id="app-1", instance_id="0"}'
            assert vector(await query(api, q, token="reader")) == {"0": 30.0}
            both = 'requests{source_id=~"app-1|secret"}'
            for token in ("reader", None, "bogus"):
                r = await query(api, both, token=token)
                assert (r.status_code, r.content) == (404, b"")

    run(body())


def test_without_access_control_a_scalar_query_works(tmp_path):
    async def body():
        async with running_cache(tmp_path, open_access=True) as api:
            # Scalars name no source id: upstream's auth proxy refuses them (bad_data); without
            # access control the cache answers, as upstream's gateway alone does.
            r = await api.get("/api/v1/query", {"query": "1 + 2 * 3", "time": "1700000000.5"}, token=None)
            assert r.content == b'{"status":"success","data":{"resultType":"scalar","result":[1700000000.500,"7"]}}\n'
            put(api.cache, fixture_envelopes())
            assert vector(await query(api, 'memory{source_id="app-1"}', token=None)) == {"0": 9.0}

    run(body())


@pytest.mark.parametrize(("value", "text"), [
    (3.0, "3"), (0.1, "0.1"), (1e21, "1000000000000000000000"), (1e-7, "0.0000001"), (-0.0, "-0"),
    (float("nan"), "NaN"), (float("inf"), "+Inf"), (float("-inf"), "-Inf"), (2.5e-3, "0.0025"),
])
def test_values_are_formatted_as_go_strconv_f(value, text):
    assert format_value(value) == text


def test_metric_names_are_sanitized_as_upstream():
    from lgr.core.apps.cache.promql_eval import sanitize

    assert sanitize("cpu.percent") == "cpu_percent"
    assert sanitize("http-requests/sec") == "http_requests_sec"
    assert sanitize("1xx") == "_xx"


def test_the_parser_reads_groupings_on_either_side_and_durations():
    tree = promql_parser.parse('sum without (a, b) (rate(x{source_id="s"}[1h30m]))')
    assert (tree.op, tree.labels, tree.without) == ("sum", ("a", "b"), True)
    assert tree.expr.arg.range_ms == 90 * 60 * 1000
    with pytest.raises(promql_parser.ParseError, match="not a valid duration"):
        promql_parser.parse('x{source_id="s"}[5q]')
    with pytest.raises(promql_parser.ParseError, match="unsupported function 'histogram_quantile'"):
        promql_parser.parse('histogram_quantile(0.9, x{source_id="s"})')
