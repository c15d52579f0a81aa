"""A small real UAA and Cloud Controller over HTTPS, for upstream-mode auth tests.

UAA ``POST /check_token`` knows these tokens (form field ``token``, basic auth cf:secret):
``admin-tok`` (doppler.firehose), ``logs-admin-tok`` (logs.admin), ``user-tok`` (openid);
``garbage-tok`` gets a 200 whose body is not JSON; anything else a 400 invalid_token.
CAPI's internal API (mTLS) ``GET /internal/v4/log_access/{id}`` lets ``bearer user-tok`` read
APP_GUID, answers 403 for FORBIDDEN_GUID, 500 for BROKEN_GUID, 404 otherwise and 401 for tokens
it does not know; the external API ``GET /v2/service_instances/{id}`` shows SERVICE_GUID to
``bearer user-tok``. Every request is recorded.
"""

from __future__ import annotations

import base64
import contextlib
import json
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from lgr.core import tls

APP_GUID = "f47ac10b-58cc-4372-a567-0e02b2c3d479"
SERVICE_GUID = "0b5f3c4e-2d7a-4e8b-9f10-aabbccddeeff"
FORBIDDEN_GUID = "11111111-2222-3333-4444-555555555555"
BROKEN_GUID = "99999999-8888-7777-6666-555555555555"
CLIENT, SECRET = "cf", "secret"

UAA_TOKENS = {
    "admin-tok": {"scope": ["doppler.firehose", "openid"], "user_id": "u-admin", "client_id": "cf"},
    "logs-admin-tok": {"scope": ["logs.admin"], "user_id": "u-logs", "client_id": "cf"},
    "user-tok": {"scope": ["openid"], "user_id": "u-user", "client_id": "cf"},
}
KNOWN_TO_CAPI = {"bearer user-tok", "bearer admin-tok", "bearer logs-admin-tok"}


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeCF:
    uaa_url: str
    capi_url: str
    external_url: str
    requests: list[Recorded]

    def calls(self, prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.path.startswith(prefix)]


def _server_only(pki: Any, name: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(pki.cert(name)), str(pki.key(name)))
    return ctx


@contextlib.asynccontextmanager
async def fake_cf(pki: Any) -> AsyncIterator[FakeCF]:
    """UAA (HTTPS), CAPI internal (mTLS, cert "cache") and CAPI external (HTTPS) on free ports."""
    requests: list[Recorded] = []

    async def check_token(request: web.Request) -> web.Response:
        form = dict(await request.post())
        requests.append(Recorded(request.method, request.path, dict(request.headers), form))
        expected = "Basic " + base64.b64encode(f"{CLIENT}:{SECRET}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return web.json_response({"error": "unauthorized"}, status=401)
        token = form.get("token", "")
        if token == "garbage-tok":
            return web.Response(status=200, text="<html>oops</html>")
        if token in UAA_TOKENS:
            return web.json_response(UAA_TOKENS[token])
        return web.json_response({"error": "invalid_token", "error_description": "bad"},
                                 status=400)

    async def log_access(request: web.Request) -> web.Response:
        requests.append(Recorded(request.method, request.path, dict(request.headers)))
        auth, guid = request.headers.get("Authorization", ""), request.match_info["guid"]
        if auth not in KNOWN_TO_CAPI:
            return web.Response(status=401)
        if guid == FORBIDDEN_GUID:
            return web.Response(status=403)
        if guid == BROKEN_GUID:
            return web.Response(status=500)
        ok = guid == APP_GUID and auth == "bearer user-tok"
        return web.Response(status=200 if ok else 404)

    async def service_instance(request: web.Request) -> web.Response:
        requests.append(Recorded(request.method, request.path, dict(request.headers)))
        ok = request.match_info["guid"] == SERVICE_GUID and \
            request.headers.get("Authorization") == "bearer user-tok"
        return web.json_response({}, status=200 if ok else 404)

    runners = []

    async def serve(routes: list[web.RouteDef], ctx: ssl.SSLContext) -> str:
        app = web.Application()
        app.add_routes(routes)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
        await site.start()
        runners.append(runner)
        return f"https://127.0.0.1:{runner.addresses[0][1]}"

    try:
        uaa = await serve([web.post("/check_token", check_token)], _server_only(pki, "tc"))
        capi = await serve([web.get("/internal/v4/log_access/{guid}", log_access)],
                           tls.server_ssl_context(*pki.files("cache")))
        external = await serve([web.get("/v2/service_instances/{guid}", service_instance)],
                               _server_only(pki, "tc"))
        yield FakeCF(uaa, capi, external, requests)
    finally:
        for runner in runners:
            await runner.cleanup()


def check_token_body(recorded: Recorded) -> str:
    return json.dumps(recorded.form)
