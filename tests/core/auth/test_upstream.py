"""Upstream-mode auth against a real UAA and Cloud Controller (HTTPS, CAPI over mTLS)."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest

from lgr.core.auth import AuthOptions, build_authorizer
from lgr.core.auth.decision import FIREHOSE_INVALID_BODY, FIREHOSE_MISSING_BODY
from lgr.core.auth.upstream import UpstreamAuthorizer
from lgr.core.metrics import Registry
from tests.core.auth.fake_cf import (
    APP_GUID,
    BROKEN_GUID,
    CLIENT,
    FORBIDDEN_GUID,
    SECRET,
    SERVICE_GUID,
    FakeCF,
    fake_cf,
)

TIMEOUT = 20.0


def options(pki: Any, cf: FakeCF, **overrides: Any) -> AuthOptions:
    values = dict(
        uaa_addr=cf.uaa_url, uaa_client_id=CLIENT, uaa_client_secret=SECRET,
        uaa_ca_path=str(pki.ca), capi_addr=cf.capi_url, capi_external_addr=cf.external_url,
        capi_ca_path=str(pki.ca), capi_cert_path=str(pki.cert("gateway")),
        capi_key_path=str(pki.key("gateway")), capi_server_name="cache", timeout=5.0)
    values.update(overrides)
    return AuthOptions(**values)


def scenario(pki, check, **overrides):
    """Run ``check(auth, cf)`` against a fresh fake CF, bounded."""
    async def body():
        async with fake_cf(pki) as cf:
            auth = build_authorizer(options(pki, cf, **overrides), Registry())
            assert isinstance(auth, UpstreamAuthorizer)
            try:
                await check(auth, cf)
            finally:
                await auth.close()

    asyncio.run(asyncio.wait_for(body(), TIMEOUT))


@pytest.mark.parametrize(
    ("authorization", "source_ids", "allowed", "reason"),
    [
        (None, [], False, "missing_token"),
        ("bearer admin-tok", [], True, None),
        ("bearer logs-admin-tok", ["anything"], True, None),
        ("bearer user-tok", [], False, "not_admin"),
        ("bearer user-tok", [APP_GUID], True, None),
        ("bearer user-tok", [SERVICE_GUID], True, None),  # external service instance fallback
        ("bearer user-tok", [APP_GUID, FORBIDDEN_GUID], False, "not_granted"),
        ("bearer user-tok", ["app-1"], False, "bad_source_id"),
        ("bearer nope", [APP_GUID], False, "invalid_token"),  # UAA 400, CAPI 401
        ("bearer nope", [], False, "invalid_token"),
        ("bearer garbage-tok", [APP_GUID], False, "upstream_error"),
    ],
)
def test_gateway_checks_follow_the_rlp_gateway(pki, authorization, source_ids, allowed, reason):
    async def check(auth, cf):
        d = await auth.check_gateway(authorization, source_ids)
        assert (d.allowed, d.reason) == (allowed, reason)
        if not allowed:
            assert d.status == 404
            assert d.body == b'{"message":"resource not found","error":"not_found"}\n\n'
            assert auth.failures("gateway", reason) == 1

    scenario(pki, check)


def test_check_token_is_upstreams_request(pki):
    async def check(auth, cf):
        assert (await auth.check_gateway("bearer admin-tok", [])).allowed
        (call,) = cf.calls("/check_token")
        assert call.method == "POST"
        assert call.form == {"token": "admin-tok"}  # the bearer prefix is trimmed
        assert call.headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert call.headers["Authorization"] == \
            "Basic " + base64.b64encode(b"cf:secret").decode()

    scenario(pki, check)


def test_capi_gets_the_authorization_header_unchanged_over_mtls(pki):
    async def check(auth, cf):
        assert (await auth.check_gateway("bearer user-tok", [APP_GUID])).allowed
        (call,) = cf.calls("/internal/v4/log_access/")
        assert call.path == f"/internal/v4/log_access/{APP_GUID}"
        assert call.headers["Authorization"] == "bearer user-tok"

    scenario(pki, check)


def test_granting_answers_are_cached_and_refusals_are_asked_again(pki):
    async def check(auth, cf):
        for _ in range(3):
            assert (await auth.check_gateway("bearer user-tok", [APP_GUID])).allowed
            assert not (await auth.check_gateway("bearer user-tok", [FORBIDDEN_GUID])).allowed
        assert len(cf.calls("/check_token")) == 1  # user-tok's 200 is reused
        log_access = [c.path for c in cf.calls("/internal/v4/log_access/")]
        assert log_access.count(f"/internal/v4/log_access/{APP_GUID}") == 1
        assert log_access.count(f"/internal/v4/log_access/{FORBIDDEN_GUID}") == 3

    scenario(pki, check)


def test_a_zero_ttl_asks_every_time(pki):
    async def check(auth, cf):
        for _ in range(2):
            assert (await auth.check_gateway("bearer admin-tok", [])).allowed
        assert len(cf.calls("/check_token")) == 2

    scenario(pki, check, cache_ttl=0)


@pytest.mark.parametrize(
    ("authorization", "allowed", "reason", "body"),
    [
        (None, False, "missing_token", FIREHOSE_MISSING_BODY),
        ("bearer admin-tok", True, None, b""),
        ("bearer logs-admin-tok", False, "not_admin", FIREHOSE_INVALID_BODY),  # TC wants doppler.firehose
        ("bearer user-tok", False, "not_admin", FIREHOSE_INVALID_BODY),
        ("bearer nope", False, "invalid_token", FIREHOSE_INVALID_BODY),
        ("bearer garbage-tok", False, "upstream_error", FIREHOSE_INVALID_BODY),
    ],
)
def test_firehose_checks_follow_the_traffic_controller(pki, authorization, allowed, reason, body):
    async def check(auth, cf):
        d = await auth.check_firehose(authorization)
        assert (d.allowed, d.reason, d.body) == (allowed, reason, body)
        if not allowed:
            assert d.status == 401 and d.headers["WWW-Authenticate"] == "Basic"

    scenario(pki, check)


@pytest.mark.parametrize(
    ("authorization", "app_id", "status", "reason"),
    [
        ("bearer user-tok", APP_GUID, 200, None),
        ("bearer user-tok", "not-a-guid", 401, "bad_source_id"),
        (None, APP_GUID, 401, "missing_token"),
        ("bearer nope", APP_GUID, 401, "invalid_token"),
        ("bearer user-tok", FORBIDDEN_GUID, 404, "not_granted"),
        ("bearer user-tok", SERVICE_GUID, 404, "not_granted"),
        ("bearer user-tok", BROKEN_GUID, 500, "upstream_error"),
    ],
)
def test_app_checks_follow_the_traffic_controller(pki, authorization, app_id, status, reason):
    async def check(auth, cf):
        d = await auth.check_app(authorization, app_id)
        assert (d.status, d.reason, d.body) == (status, reason, b"")
        assert not cf.calls("/check_token")  # the TC asks CAPI only

    scenario(pki, check)


def test_unreachable_uaa_and_capi_are_refusals(pki):
    async def check(auth, cf):
        d = await auth.check_gateway("bearer admin-tok", [])
        assert (d.status, d.reason) == (404, "upstream_error")
        d = await auth.check_app("bearer user-tok", APP_GUID)
        assert (d.status, d.reason) == (500, "upstream_error")

    scenario(pki, check, uaa_addr="https://127.0.0.1:1", capi_addr="https://127.0.0.1:1")


def test_capi_refuses_a_client_without_its_certificate(pki):
    async def check(auth, cf):
        d = await auth.check_app("bearer user-tok", APP_GUID)
        assert (d.status, d.reason) == (500, "upstream_error")

    scenario(pki, check, capi_cert_path="", capi_key_path="")


def test_a_wrong_server_name_is_refused_and_skip_cert_verify_allows_it(pki):
    async def wrong(auth, cf):
        assert (await auth.check_app("bearer user-tok", APP_GUID)).status == 500

    async def skipped(auth, cf):
        assert (await auth.check_app("bearer user-tok", APP_GUID)).allowed

    scenario(pki, wrong, capi_server_name="someone-else")
    scenario(pki, skipped, capi_server_name="someone-else", skip_cert_verify=True)


def test_options_validation_names_the_callers_env_vars():
    problems = AuthOptions(uaa_addr="uaa:8443").validate(
        {"uaa_addr": "LOG_ADMIN_ADDR", "uaa_client_id": "LOG_ADMIN_CLIENT_ID"})
    assert "LOG_ADMIN_CLIENT_ID is required when LOG_ADMIN_ADDR is set" in problems
    assert any(p.startswith("LOG_ADMIN_ADDR='uaa:8443'") for p in problems)
    assert AuthOptions().validate() == []
    assert AuthOptions().mode == "tokens"
    assert AuthOptions(uaa_addr="https://u").mode == "upstream"
    assert AuthOptions(uaa_addr="https://u", disabled=True).mode == "disabled"
