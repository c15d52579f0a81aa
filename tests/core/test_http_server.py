"""lgr.core.http_server: a half-sent request is dropped after the header timeout, counted, and
other clients are served meanwhile; the log cache, the traffic controller and the gateway (TLS)."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import httpx
import pytest

from lgr.core import envelope
from lgr.core.metrics import Registry
from lgr.core.settings import HEADER_TIMEOUTS_METRIC
from tests.conftest import async_wait_until
from tests.core.apps.cache_support import NS, T0, put, running_cache
from tests.core.apps.firehose_support import run
from tests.core.apps.gateway_support import gateway_stack
from tests.core.apps.tc_support import auth, client_ssl, make_tokens, system, ws

pytestmark = pytest.mark.timeout(90)

BOUND = 0.5  # the header timeout the servers get here
HALF = b"GET /api/v1/info HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow"  # no end of headers


def timeouts(registry: Registry) -> int:
    return registry.get(HEADER_TIMEOUTS_METRIC).value


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    """True once the server closes the connection without answering (EOF or reset)."""
    try:
        data = await asyncio.wait_for(reader.read(65536), timeout=30)
    except (ConnectionResetError, ssl.SSLError):
        return True
    return data == b""


async def half_sent_is_dropped(port: int, registry: Registry, served: Any,
                               context: ssl.SSLContext | None = None) -> None:
    """Two slow clients (half the headers; nothing at all) are closed and counted, while
    ``served()`` (a complete request) is answered in the meantime."""
    before = timeouts(registry)
    half_r, half_w = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    mute_r, mute_w = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    half_w.write(HALF)
    await half_w.drain()
    await served()  # while both wait
    assert await closed_by_server(half_r)
    assert await closed_by_server(mute_r)
    await async_wait_until(lambda: timeouts(registry) == before + 2, timeout=10)
    await served()
    for w in (half_w, mute_w):
        w.close()


def test_the_log_cache_drops_a_half_sent_request_but_not_a_long_one(tmp_path):
    async def body():
        async with running_cache(tmp_path, header_timeout=BOUND, query_timeout=2.0) as api:
            cache = api.cache

            async def served() -> None:
                assert (await api.get("/api/v1/info", token=None)).status_code == 200

            await half_sent_is_dropped(cache.port, cache.metrics, served)
            # A request whose headers arrived runs past the header timeout: this query takes
            # QUERY_TIMEOUT (2 s, four header timeouts) and is answered, not cut.
            put(cache, [envelope.counter("requests", total=n, source_id="app", instance_id=str(n % 600),
                                         timestamp=T0 + (n // 600) * NS) for n in range(60_000)])
            start = T0 // NS
            r = await api.get("/api/v1/query_range", {
                "query": 'sum(rate(requests{source_id="app"}[5m]))', "start": str(start),
                "end": str(start + 10_999), "step": "1"})
            assert r.status_code == 500 and "timed out" in r.json()["error"]

    run(body(), timeout=80)


def test_the_traffic_controller_drops_a_half_sent_request_and_keeps_its_websockets(pki, tmp_path):
    tokens = make_tokens(tmp_path)

    async def body():
        async with system(pki, tokens, header_timeout=BOUND) as (_, tc):
            async with ws(tc, "/firehose/sub-1", auth(tokens.admin)) as conn, \
                    httpx.AsyncClient(timeout=10) as http:
                async def served() -> None:
                    r = await http.get(f"{tc.http_url}/apps/app-a/recentlogs",
                                       headers=auth(tokens.admin))
                    assert r.status_code == 200

                await half_sent_is_dropped(tc.port, tc.metrics, served)
                # The websocket opened before the slow clients is older than the timeout: alive.
                await asyncio.wait_for(await conn.ping(), timeout=10)

    run(body())


def test_the_gateway_drops_a_half_sent_request_over_tls(pki, tmp_path):
    async def body():
        async with gateway_stack(pki, tmp_path, header_timeout=BOUND) as stack:
            gw = stack.gateway

            async def served() -> None:
                r = await stack.client.get(f"https://127.0.0.1:{gw.port}/nothing-here")
                assert r.status_code == 404

            await half_sent_is_dropped(gw.port, gw.metrics, served, client_ssl(pki))

    run(body())


@pytest.mark.parametrize("env", ["LGR_CACHE_HEADER_TIMEOUT", "LGR_TC_HEADER_TIMEOUT",
                                 "LGR_GATEWAY_HEADER_TIMEOUT"])
def test_the_header_timeout_must_be_positive(env):
    from lgr.core.apps.cache.config import CacheConfig
    from lgr.core.apps.gateway.config import GatewayConfig
    from lgr.core.apps.tc.config import TcConfig
    from lgr.core.config import load_config
    from lgr.core.errors import ConfigError

    cls = {"LGR_CACHE_HEADER_TIMEOUT": CacheConfig, "LGR_TC_HEADER_TIMEOUT": TcConfig,
           "LGR_GATEWAY_HEADER_TIMEOUT": GatewayConfig}[env]
    with pytest.raises(ConfigError, match=f"{env}=0.0: must be positive"):
        load_config(cls, env={env: "0s", "ROUTER_ADDRS": "127.0.0.1:1", "ROUTER_CA_FILE": "x",
                              "ROUTER_CERT_FILE": "x", "ROUTER_KEY_FILE": "x", "HTTP_CERT_PATH": "x",
                              "HTTP_KEY_PATH": "x", "LOGS_PROVIDER_ADDR": "127.0.0.1:1",
                              "LOGS_PROVIDER_CA_PATH": "x", "LOGS_PROVIDER_CLIENT_CERT_PATH": "x",
                              "LOGS_PROVIDER_CLIENT_KEY_PATH": "x"})
