"""Recent logs and container metrics served from a real log cache (LOG_CACHE_ADDR), token passed on."""

from __future__ import annotations

import contextlib
import socket
import time

import httpx
import pytest

from lgr.core._proto.events import envelope_pb2 as v1
from lgr.core.apps.cache.app import Cache
from lgr.core.apps.tc.cache_recent import bearer_token
from lgr.core.apps.tc.config import TcConfig
from lgr.core.config import load_config
from lgr.core.errors import ConfigError
from tests.core.apps.cache_support import cache_config, put
from tests.core.apps.firehose_support import run, started
from tests.core.apps.tc_support import app_log, auth, container_metric, make_tokens, system
from tests.core.apps.test_tc_recent import parts_of


@pytest.fixture
def tokens(tmp_path):
    return make_tokens(tmp_path)


@contextlib.asynccontextmanager
async def cache_and_tc(pki, tokens, cache_overrides=None, **tc_overrides):
    """A log cache (same tokens file) and a controller reading it; yields (routers, tc, cache)."""
    cache = Cache(cache_config(tokens.path, **(cache_overrides or {})))
    async with started(cache):
        tc_overrides.setdefault("log_cache_addr", cache.url)
        async with system(pki, tokens, **tc_overrides) as (routers, tc):
            yield routers, tc, cache


def http(tc, token: str | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=tc.http_url, timeout=10, headers=auth(token) if token else {})


def test_recent_logs_come_from_the_cache_newest_first(pki, tokens):
    async def body():
        async with cache_and_tc(pki, tokens) as (routers, tc, cache):
            old = time.time_ns() - 3600 * 10**9  # logged long before the controller started
            logs = [app_log("app-a", f"line {i}", old + i) for i in range(5)]
            put(cache, [*logs, app_log("app-b", "not a's", old), container_metric("app-a", 0, 1.0)])
            assert all(len(r.egress.streams) == 0 for r in routers)  # no in-memory store feed
            async with http(tc, tokens.reader) as client:
                resp = await client.get("/apps/app-a/recentlogs", headers={"Origin": "https://x"})
                assert resp.status_code == 200
                assert resp.headers["Access-Control-Allow-Origin"] == "https://x"
                got = parts_of(resp)
                assert [e.logMessage.message for e in got] == [
                    f"line {i}".encode() for i in (4, 3, 2, 1, 0)]
                assert all(e.eventType == v1.Envelope.LogMessage and e.logMessage.app_id == "app-a"
                           for e in got)
                assert len(parts_of(await client.get("/apps/app-a/recentlogs?limit=2"))) == 2
                assert len(parts_of(await client.get("/apps/app-a/recentlogs?limit=5000"))) == 5
                assert parts_of(await client.get("/apps/app-a/recentlogs?limit=0")) == []
                # The controller's own access check still comes first.
                assert (await client.get("/apps/app-b/recentlogs")).status_code == 404
            assert tc.m.recent_requests.value == 4 and tc.m.log_cache_failures.value == 0

    run(body())


def test_container_metrics_are_each_instances_newest_of_the_last_minute(pki, tokens):
    async def body():
        async with cache_and_tc(pki, tokens) as (_, tc, cache):
            now = time.time_ns()
            plain = container_metric("app-a", 3, 5.0, now)
            del plain.gauge.metrics["disk_quota"]  # not a container metric
            put(cache, [container_metric("app-a", 0, 1.0, now - 30 * 10**9),
                        container_metric("app-a", 0, 2.0, now - 10 * 10**9),
                        container_metric("app-a", 1, 3.0, now - 5 * 10**9),
                        container_metric("app-a", 2, 9.0, now - 120 * 10**9), plain,
                        app_log("app-a", "a log", now)])
            async with http(tc, tokens.admin) as client:
                got = parts_of(await client.get("/apps/app-a/containermetrics"))
            assert [(e.containerMetric.instanceIndex, e.containerMetric.cpuPercentage)
                    for e in got] == [(0, 2.0), (1, 3.0)]
            assert all(e.containerMetric.applicationId == "app-a" for e in got)

    run(body())


def test_the_callers_token_goes_to_the_cache_and_its_refusal_is_a_500(pki, tokens):
    async def body():
        async with cache_and_tc(pki, tokens, disable_access_control=True) as (_, tc, cache):
            put(cache, [app_log("app-a", "hello")])
            async with http(tc) as anonymous, http(tc, tokens.admin) as admin:
                refused = await anonymous.get("/apps/app-a/recentlogs")
                assert refused.status_code == 500
                assert "refused to serve source 'app-a' (404)" in refused.text
                assert (await anonymous.get("/apps/app-a/containermetrics")).status_code == 500
                (env,) = parts_of(await admin.get("/apps/app-a/recentlogs"))
                assert env.logMessage.message == b"hello"
                cookie = await anonymous.get(
                    "/apps/app-a/recentlogs", headers={"Cookie": f"authorization=bearer%20{tokens.admin}"})
                assert len(parts_of(cookie)) == 1
            assert tc.m.log_cache_failures.value == 2
            assert "log_cache_failures 2" in tc.metrics.render_prometheus()

    run(body())


def test_an_unreachable_cache_is_a_500_with_the_reason(pki, tokens):
    async def body():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        async with system(pki, tokens, log_cache_addr=f"127.0.0.1:{port}") as (_, tc):
            async with http(tc, tokens.admin) as client:
                resp = await client.get("/apps/app-a/recentlogs")
            assert resp.status_code == 500 and "cannot reach the log cache" in resp.text
            assert tc.m.log_cache_failures.value == 1

    run(body())


def test_an_https_cache_is_checked_against_the_ca_and_server_name(pki, tokens):
    async def body():
        _, cert, key = pki.files("cache")
        https = {"external_cert": str(cert), "external_key": str(key)}
        async with cache_and_tc(pki, tokens, https) as (_, tc, cache):
            assert cache.url.startswith("https://")
            put(cache, [app_log("app-a", "over tls")])
            async with http(tc, tokens.admin) as client:
                (env,) = parts_of(await client.get("/apps/app-a/recentlogs"))
            assert env.logMessage.message == b"over tls"
        async with cache_and_tc(pki, tokens, https, log_cache_server_name="log_cache") as (_, tc, _c):
            async with http(tc, tokens.admin) as client:
                resp = await client.get("/apps/app-a/recentlogs")
            assert resp.status_code == 500 and "log_cache" in resp.text

    run(body())


@pytest.mark.parametrize(("overrides", "problem"), [
    ({"log_cache_addr": "ftp://h:1"}, "LOG_CACHE_ADDR='ftp://h:1': use host:port"),
    ({"log_cache_addr": "h"}, "LOG_CACHE_ADDR='h'"),
    ({"log_cache_addr": "h:1", "log_cache_cert_file": "c"}, "LOG_CACHE_CERT_FILE and LOG_CACHE_KEY_FILE"),
])
def test_log_cache_settings_are_checked(overrides, problem):
    base = {"router_addrs": ["h:1"], "ca_file": "a", "cert_file": "b", "key_file": "c"}
    with pytest.raises(ConfigError) as info:
        load_config(TcConfig, env={}, overrides={**base, **overrides})
    assert problem in info.value.message


def test_bearer_tokens_lose_their_scheme():
    assert bearer_token("bearer abc") == "abc" == bearer_token("Bearer  abc ")
    assert bearer_token("abc") == "abc" and bearer_token("") == ""
