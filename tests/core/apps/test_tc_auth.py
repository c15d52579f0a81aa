"""Traffic controller access checks: every path answered as upstream does, and counted."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from tests.core.apps.firehose_support import run
from tests.core.apps.tc_support import (
    app_log,
    auth,
    make_tokens,
    publish,
    receive,
    subscribed,
    system,
    ws,
)


@pytest.fixture
def tokens(tmp_path):
    return make_tokens(tmp_path)


@dataclass(frozen=True)
class Answer:
    status_code: int
    headers: dict[str, str]
    content: bytes


async def refused(tc, path: str, headers: dict[str, str] | None = None) -> Answer:
    """Try a websocket on ``path``; return the HTTP answer that refused it."""
    with pytest.raises(InvalidStatus) as exc:
        async with ws(tc, path, headers):
            pass
    response = exc.value.response
    return Answer(response.status_code, dict(response.headers.raw_items()),
                  bytes(response.body or b""))


def failures(tc, endpoint: str, reason: str) -> int:
    return tc.metrics.get("auth_failures", endpoint=endpoint, reason=reason).value


def test_firehose_needs_an_admin_token(pki, tokens):
    async def body():
        async with system(pki, tokens) as (routers, tc):
            missing = await refused(tc, "/firehose/s")
            assert missing.status_code == 401
            assert missing.headers["WWW-Authenticate"] == "Basic"
            assert missing.content == b"You are not authorized. authorization not provided"
            bad = await refused(tc, "/firehose/s", auth("not-a-token"))
            assert (bad.status_code, bad.content) == (
                401, b"You are not authorized. invalid authorization")
            reader = await refused(tc, "/firehose/s", auth(tokens.reader))
            assert (reader.status_code, reader.content) == (
                401, b"You are not authorized. invalid authorization")
            assert failures(tc, "firehose", "missing_token") == 1
            assert failures(tc, "firehose", "invalid_token") == 1
            assert failures(tc, "firehose", "not_admin") == 1
            async with ws(tc, "/firehose/s", auth(tokens.admin)) as conn:
                await subscribed(routers, 2)
                await publish(pki, routers[0], [app_log("anything", "admin sees it")])
                (env,) = await receive(conn, 1)
                assert env.logMessage.message == b"admin sees it"

    run(body())


def test_app_streams_need_a_token_that_may_read_the_app(pki, tokens):
    async def body():
        async with system(pki, tokens) as (routers, tc):
            missing = await refused(tc, "/apps/app-a/stream")
            assert (missing.status_code, missing.content) == (401, b"")
            assert missing.headers["WWW-Authenticate"] == "Basic"
            assert (await refused(tc, "/apps/app-a/stream", auth("nope"))).status_code == 401
            not_granted = await refused(tc, "/apps/app-b/stream", auth(tokens.reader))
            assert (not_granted.status_code, not_granted.content) == (404, b"")
            assert failures(tc, "app", "missing_token") == 1
            assert failures(tc, "app", "invalid_token") == 1
            assert failures(tc, "app", "not_granted") == 1
            async with ws(tc, "/apps/app-a/stream", auth(tokens.reader)) as granted, \
                    ws(tc, "/apps/app-b/stream", auth(tokens.admin)) as admin:
                await subscribed(routers, 3)
                await publish(pki, routers[0], [app_log("app-a", "a"), app_log("app-b", "b")])
                assert [e.logMessage.message for e in await receive(granted, 1)] == [b"a"]
                assert [e.logMessage.message for e in await receive(admin, 1)] == [b"b"]

    run(body())


def test_the_authorization_cookie_works_for_websockets(pki, tokens):
    async def body():
        async with system(pki, tokens) as (routers, tc):
            cookie = "authorization=" + urllib.parse.quote(f"bearer {tokens.admin}")
            async with ws(tc, "/firehose/c", {"Cookie": cookie}) as conn:
                await subscribed(routers, 2)
                await publish(pki, routers[0], [app_log("x", "via cookie")])
                (env,) = await receive(conn, 1)
                assert env.logMessage.message == b"via cookie"
            bad = await refused(tc, "/firehose/c", {"Cookie": "authorization=bearer%20nope"})
            assert bad.status_code == 401

    run(body())


def test_recent_logs_and_container_metrics_check_access_too(pki, tokens):
    async def body():
        async with system(pki, tokens) as (_, tc):
            async with httpx.AsyncClient(base_url=tc.http_url, timeout=10) as client:
                origin = {"Origin": "https://console.example.com"}
                resp = await client.get("/apps/app-a/recentlogs", headers=origin)
                assert resp.status_code == 401
                assert resp.headers["Access-Control-Allow-Origin"] == origin["Origin"]
                assert resp.headers["Access-Control-Allow-Credentials"] == "true"
                resp = await client.get("/apps/app-b/recentlogs", headers=auth(tokens.reader))
                assert resp.status_code == 404
                resp = await client.get("/apps/app-b/containermetrics",
                                        headers=auth(tokens.reader))
                assert resp.status_code == 404
                for path in ("/apps/app-a/recentlogs", "/apps/app-a/containermetrics"):
                    resp = await client.get(path, headers=auth(tokens.reader))
                    assert resp.status_code == 200
                    assert resp.headers["Content-Type"].startswith(
                        "multipart/x-protobuf; boundary=")
                assert failures(tc, "app", "not_granted") == 2

    run(body())


def test_disabled_access_control_lets_everyone_read(pki, tokens):
    async def body():
        async with system(pki, tokens, disable_access_control="true") as (routers, tc):
            async with ws(tc, "/firehose/open") as conn:
                await subscribed(routers, 2)
                await publish(pki, routers[0], [app_log("x", "open")])
                (env,) = await receive(conn, 1)
                assert env.logMessage.message == b"open"

    run(body())


def test_set_cookie_sets_the_named_cookie_for_the_doppler_domain(pki, tokens):
    async def body():
        async with system(pki, tokens, system_domain="bosh-lite.com") as (_, tc):
            async with httpx.AsyncClient(base_url=tc.http_url, timeout=10) as client:
                resp = await client.post(
                    "/set-cookie", data={"CookieName": "authorization", "CookieValue": "bearer x"},
                    headers={"Origin": "https://console.bosh-lite.com"})
            assert resp.status_code == 200
            cookie = resp.headers["Set-Cookie"]
            assert cookie.startswith("authorization=")
            assert "Domain=doppler.bosh-lite.com" in cookie and "Secure" in cookie
            assert resp.headers["Access-Control-Allow-Origin"] == "https://console.bosh-lite.com"

    run(body())
