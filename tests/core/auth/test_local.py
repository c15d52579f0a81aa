"""Tokens-file and open authorizers: every endpoint's decisions, statuses, bodies and counts."""

from __future__ import annotations

import asyncio

import pytest

from lgr.core.auth import AuthOptions, build_authorizer, tokens
from lgr.core.auth.decision import (
    FIREHOSE_INVALID_BODY,
    FIREHOSE_MISSING_BODY,
    GATEWAY_NOT_FOUND_BODY,
)
from lgr.core.metrics import Registry


@pytest.fixture()
def setup(tmp_path):
    path = tmp_path / "tokens.json"
    admin, _ = tokens.mint(path, "admin", admin=True)
    reader, _ = tokens.mint(path, "reader", source_ids=["app-1", "app-2"])
    registry = Registry()
    return build_authorizer(AuthOptions(tokens_file=path), registry), registry, admin, reader


def check(coro):
    return asyncio.run(asyncio.wait_for(coro, 5))


@pytest.mark.parametrize(
    ("who", "source_ids", "allowed", "reason"),
    [
        ("none", [], False, "missing_token"),
        ("bad", ["app-1"], False, "invalid_token"),
        ("reader", [], False, "not_admin"),
        ("reader", ["app-3"], False, "not_granted"),
        ("reader", ["app-1", "app-3"], False, "not_granted"),
        ("reader", ["app-1", "app-2"], True, None),
        ("admin", [], True, None),
        ("admin", ["anything"], True, None),
    ],
)
def test_gateway(setup, who, source_ids, allowed, reason):
    auth, registry, admin, reader = setup
    authorization = {"none": None, "bad": "bearer lgr_bad", "admin": f"bearer {admin}",
                     "reader": f"bearer {reader}"}[who]
    d = check(auth.check_gateway(authorization, source_ids))
    assert (d.allowed, d.reason) == (allowed, reason)
    if allowed:
        assert d.status == 200 and d.identity == who and d.admin == (who == "admin")
    else:
        assert (d.status, d.body) == (404, GATEWAY_NOT_FOUND_BODY)
        assert d.headers == {"Content-Type": "text/plain; charset=utf-8",
                             "X-Content-Type-Options": "nosniff"}
        assert registry.get("auth_failures", endpoint="gateway", reason=reason).value == 1


@pytest.mark.parametrize(
    ("who", "allowed", "reason", "body"),
    [
        ("none", False, "missing_token", FIREHOSE_MISSING_BODY),
        ("bad", False, "invalid_token", FIREHOSE_INVALID_BODY),
        ("reader", False, "not_admin", FIREHOSE_INVALID_BODY),
        ("admin", True, None, b""),
    ],
)
def test_firehose(setup, who, allowed, reason, body):
    auth, _, admin, reader = setup
    authorization = {"none": "", "bad": "bearer lgr_bad", "admin": f"bearer {admin}",
                     "reader": f"bearer {reader}"}[who]
    d = check(auth.check_firehose(authorization))
    assert (d.allowed, d.reason, d.body) == (allowed, reason, body)
    if not allowed:
        assert d.status == 401
        assert d.headers["WWW-Authenticate"] == "Basic"


@pytest.mark.parametrize(
    ("who", "app", "status", "reason"),
    [
        ("none", "app-1", 401, "missing_token"),
        ("bad", "app-1", 401, "invalid_token"),
        ("reader", "app-3", 404, "not_granted"),
        ("reader", "app-1", 200, None),
        ("admin", "app-3", 200, None),
    ],
)
def test_app(setup, who, app, status, reason):
    auth, _, admin, reader = setup
    authorization = {"none": None, "bad": "lgr_bad", "admin": admin, "reader": reader}[who]
    d = check(auth.check_app(authorization, app))
    assert (d.status, d.reason, d.body) == (status, reason, b"")


def test_disabled_access_control_allows_everything(tmp_path):
    auth = build_authorizer(AuthOptions(disabled=True))
    assert check(auth.check_firehose(None)).allowed
    assert check(auth.check_gateway(None, [])).allowed
    assert check(auth.check_app(None, "x")).allowed


def test_a_server_that_declared_auth_failures_itself_does_not_break_counting(setup, tmp_path):
    registry = Registry()
    registry.counter("auth_failures", "theirs", labels={"status": "401"})
    auth = build_authorizer(AuthOptions(tokens_file=tmp_path / "tokens.json"), registry)
    d = check(auth.check_firehose(None))
    assert d.status == 401 and auth.failures("firehose", "missing_token") == 1
