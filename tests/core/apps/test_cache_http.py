"""The log cache's HTTP API over real HTTP (httpx) against a running cache: reads, errors, meta, auth."""

from __future__ import annotations

import json

import pytest
from google.protobuf import json_format

from lgr.core import envelope, protojson
from lgr.core._proto.loggregator.v2 import envelope_pb2
from tests.core.apps.cache_support import NS, T0, put, running_cache
from tests.core.apps.firehose_support import run
from tests.core.apps.test_router import every_kind


def logs(n: int, source_id: str = "app-1", start: int = T0) -> list[envelope_pb2.Envelope]:
    return [envelope.log(f"line {i}", source_id=source_id, instance_id="0", timestamp=start + i * NS,
                         tags={"source_type": "APP/PROC/WEB"}) for i in range(n)]


def batch(response) -> list[envelope_pb2.Envelope]:
    assert response.status_code == 200, response.text
    doc = response.json()
    return list(json_format.ParseDict(doc["envelopes"], envelope_pb2.EnvelopeBatch()).batch)


def payloads(response) -> list[str]:
    return [e.log.payload.decode() for e in batch(response)]


def test_a_read_answers_upstreams_json_for_every_kind(tmp_path):
    async def body():
        async with running_cache(tmp_path) as api:
            sent = every_kind("app-1")
            put(api.cache, sent)
            r = await api.get("/api/v1/read/app-1")
            assert r.headers["content-type"] == "application/json"
            assert "server" not in r.headers
            assert r.content == ('{"envelopes":' + protojson.batch_json(sent) + "}\n").encode()
            assert batch(r) == sent
            empty = await api.get("/api/v1/read/nobody")
            assert empty.content == b'{"envelopes":{"batch":[]}}\n'
            component = logs(1, "cf/doppler")  # v1 components' source ids hold a slash
            put(api.cache, component)
            assert batch(await api.get("/api/v1/read/cf/doppler")) == component

    run(body())


def test_read_parameters_select_time_range_types_limit_order_and_names(tmp_path):
    async def body():
        async with running_cache(tmp_path) as api:
            put(api.cache, logs(150))
            put(api.cache, [envelope.counter("requests", total=i, source_id="app-1", timestamp=T0 + i * NS + 1)
                            for i in range(3)])
            put(api.cache, [envelope.gauge({"cpu": 1.0, "memory": 2.0}, source_id="app-1", timestamp=T0 + 7),
                            envelope.timer("http", 0, 5, source_id="app-1", timestamp=T0 + 8)])
            assert len(batch(await api.get("/api/v1/read/app-1"))) == 100  # the default limit
            got = payloads(await api.get("/api/v1/read/app-1", {
                "start_time": T0 + 10 * NS, "end_time": T0 + 13 * NS, "envelope_types": "LOG"}))
            assert got == ["line 10", "line 11", "line 12"]  # [start, end)
            got = payloads(await api.get("/api/v1/read/app-1", {
                "envelope_types": "LOG", "limit": 2, "descending": "true"}))
            assert got == ["line 149", "line 148"]
            types = await api.get("/api/v1/read/app-1", [("envelope_types", "COUNTER"), ("envelope_types", "4")])
            assert [e.WhichOneof("message") for e in batch(types)] == ["counter", "timer", "counter", "counter"]
            anything = await api.get("/api/v1/read/app-1", {"envelope_types": "ANY", "limit": 1000})
            assert len(batch(anything)) == 155
            named = batch(await api.get("/api/v1/read/app-1", {"name_filter": "^(cpu|req)"}))
            assert [e.WhichOneof("message") for e in named] == ["counter", "gauge", "counter", "counter"]
            assert list(named[1].gauge.metrics) == ["cpu"]  # trimmed to the matching metrics
            up_to_now = await api.get("/api/v1/read/app-1", {"start_time": T0 + 149 * NS, "end_time": 0})
            assert payloads(up_to_now) == ["line 149"]  # end_time 0 means now

    run(body())


@pytest.mark.parametrize(("params", "status", "code", "message"), [
    # Upstream answers these four 500 with code 2; lgr 400 with code 3 (README, Differences).
    ({"limit": 1001}, 400, 3, "Limit (1001) must be 1000 or less"),
    ({"limit": -1}, 400, 3, "Limit (-1) must be greater than zero"),
    ({"start_time": 5, "end_time": 4}, 400, 3, "StartTime (5) must be before EndTime (4)"),
    ({"name_filter": "("}, 400, 3, "Name filter must be a valid regular expression: "),
    ({"name_filter": "(a)\\1"}, 400, 3, "Name filter must be a valid regular expression: "),
    ({"name_filter": "(?=a)"}, 400, 3, "Name filter must be a valid regular expression: "),
    ({"limit": "ten"}, 400, 3, 'parsing field "limit": strconv.ParseInt: parsing "ten": invalid syntax'),
    ({"start_time": "1.5"}, 400, 3, 'parsing field "start_time": strconv.ParseInt: parsing "1.5": invalid syntax'),
    ({"end_time": str(2**63)}, 400, 3, 'parsing field "end_time": strconv.ParseInt: parsing "9223372036854775808": value out of range'),
    ({"descending": "maybe"}, 400, 3, 'parsing field "descending": strconv.ParseBool'),
    ({"envelope_types": "METRIC"}, 400, 3, "parsing field \"envelope_types\": 'METRIC' is not a valid value"),
    ([("limit", "1"), ("limit", "2")], 400, 3, "too many values for field 'limit'"),
])
def test_read_errors_are_client_errors_with_upstreams_messages(tmp_path, params, status, code, message):
    async def body():
        async with running_cache(tmp_path) as api:
            r = await api.get("/api/v1/read/app-1", params)
            assert r.status_code == status
            assert r.headers["content-type"] == "application/json"
            doc = r.json()
            assert doc["code"] == code and doc["details"] == [] and doc["message"].startswith(message)
            assert r.content.endswith(b"}\n")

    run(body())


def test_limit_1000_is_allowed(tmp_path):
    async def body():
        async with running_cache(tmp_path) as api:
            put(api.cache, logs(1200))
            assert len(batch(await api.get("/api/v1/read/app-1", {"limit": 1000}))) == 1000

    run(body())


def test_auth_refusals_are_empty_404s_and_counted(tmp_path):
    async def body():
        async with running_cache(tmp_path) as api:
            put(api.cache, logs(2) + logs(2, "secret"))
            for token in (None, "not-a-token"):
                r = await api.get("/api/v1/read/app-1", token=token)
                assert (r.status_code, r.content) == (404, b"")
            refused = await api.get("/api/v1/read/secret", token="reader")
            assert (refused.status_code, refused.content) == (404, b"")
            assert len(batch(await api.get("/api/v1/read/app-1", token="reader"))) == 2
            assert len(batch(await api.get("/api/v1/read/secret", token="admin"))) == 2
            auth = api.cache.authorizer
            assert auth.failures("gateway", "missing_token") == 1
            assert auth.failures("gateway", "invalid_token") == 1
            assert auth.failures("gateway", "not_granted") == 1
            # Refused before the query string is even looked at, as upstream's proxy does.
            assert (await api.get("/api/v1/read/app-1", {"limit": "x"}, token=None)).status_code == 404

    run(body())


def test_meta_counts_per_source_filtered_by_the_token(tmp_path):
    async def body():
        async with running_cache(tmp_path, max_per_source=3) as api:
            put(api.cache, logs(5) + logs(1, "router", start=T0 + 100))
            r = await api.get("/api/v1/meta")
            assert r.status_code == 200
            assert r.json() == {"meta": {
                "app-1": {"count": "3", "expired": "2", "oldestTimestamp": str(T0 + 2 * NS),
                          "newestTimestamp": str(T0 + 4 * NS)},
                "router": {"count": "1", "oldestTimestamp": str(T0 + 100), "newestTimestamp": str(T0 + 100)},
            }}  # the auth proxy's protojson: lowerCamel names, zeros left out
            assert r.content.endswith(b"}\n")
            mine = await api.get("/api/v1/meta", token="reader")
            assert list(mine.json()["meta"]) == ["app-1"]
            assert (await api.get("/api/v1/meta", token=None)).status_code == 404
            assert (await api.get("/api/v1/meta", token="nope")).content == b""

    run(body())


def test_meta_without_access_control_is_the_gateways_json(tmp_path):
    async def body():
        async with running_cache(tmp_path, open_access=True) as api:
            assert (await api.get("/api/v1/meta", token=None)).content == b'{"meta":{}}\n'
            put(api.cache, logs(1))
            doc = (await api.get("/api/v1/meta", token=None)).json()
            assert doc == {"meta": {"app-1": {"count": "1", "expired": "0", "oldest_timestamp": str(T0),
                                              "newest_timestamp": str(T0)}}}
            assert len(batch(await api.get("/api/v1/read/app-1", token=None))) == 1

    run(body())


def test_info_needs_no_token_and_unknown_paths_are_grpc_gateway_404s(tmp_path):
    async def body():
        async with running_cache(tmp_path) as api:
            info = await api.get("/api/v1/info", token=None)
            assert info.status_code == 200 and info.content.endswith(b"\n")
            doc = json.loads(info.content)
            assert list(doc) == ["version", "vm_uptime"] and doc["version"] == "3.0.0"
            assert int(doc["vm_uptime"]) >= 0
            missing = await api.get("/api/v2/read/app-1")
            assert missing.status_code == 404
            assert missing.json() == {"code": 5, "message": "Not Found", "details": []}
            post = await api.http.post(api.cache.url + "/api/v1/read/app-1",
                                       headers={"Authorization": f"bearer {api.tokens.admin}"})
            assert post.status_code == 501

    run(body())


def test_metrics_move_with_ingress_egress_expiry_and_pruning(tmp_path):
    async def body():
        size = len(logs(1)[0].SerializeToString()) + 50
        async with running_cache(tmp_path, max_per_source=4, memory_limit=str(6 * size)) as api:
            put(api.cache, logs(5) + logs(4, "app-2", start=T0 + NS // 2))
            assert api.cache.store.size <= 6
            await api.get("/api/v1/read/app-1")
            text = (await api.http.get(api.cache.metrics_url)).text
            values = {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
                      if line and not line.startswith("#")}
            held = api.cache.store.size
            assert values["log_cache_ingress"] == 9
            assert values["log_cache_store_size"] == held
            assert values["log_cache_pruned"] == api.cache.store.pruned > 0
            assert values["log_cache_expired"] == 1 + api.cache.store.pruned
            assert values["log_cache_egress"] > 0
            assert values["log_cache_store_bytes"] == api.cache.store.nbytes
            assert values["log_cache_memory_limit"] == 6 * size
            assert values["log_cache_cache_period"] > 0

    run(body())
