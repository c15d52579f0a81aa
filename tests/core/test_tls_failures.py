"""TLS refusals are counted per listener: a component's metrics port and an HTTPS server count
each handshake they refuse in tls_handshake_failures{listener=...}, and not the ones they accept."""

from __future__ import annotations

import asyncio
import socket
import ssl

from aiohttp import web

from lgr.core import probe, tls
from lgr.core.apps.router.app import Router
from lgr.core.http_server import HttpServer
from lgr.core.metrics import Registry
from tests.conftest import async_wait_until
from tests.core.apps.firehose_support import router_config, run

TIMEOUT = 10.0


def refused_attempts(host: str, port: int, pki) -> None:
    """Three handshakes a mutual-TLS server refuses: plain HTTP, no client cert, a rogue client."""
    with socket.create_connection((host, port), timeout=TIMEOUT) as plain:
        plain.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        plain.recv(100)
    no_cert = ssl.create_default_context(cafile=str(pki.ca))
    no_cert.check_hostname = False
    rogue = probe.client_context(*map(str, pki.rogue.files("client")))
    rogue.check_hostname = False
    rogue.verify_mode = ssl.CERT_NONE
    for context in (no_cert, rogue):
        try:
            with socket.create_connection((host, port), timeout=TIMEOUT) as raw, \
                    context.wrap_socket(raw) as conn:
                conn.recv(10)  # TLS 1.3: the refusal arrives on the first read
        except (OSError, ssl.SSLError):
            pass


def test_the_router_metrics_port_counts_refused_handshakes_only(pki):
    async def body():
        router = Router(router_config(pki))
        await router.start()
        try:
            failures = router.metrics.get("tls_handshake_failures", listener="metrics")
            port = router._metrics_server.port
            good = probe.client_context(*map(str, pki.files("client")))
            assert await asyncio.to_thread(probe.http_healthy, router.metrics_url, good)
            assert failures.value == 0
            await asyncio.to_thread(refused_attempts, "127.0.0.1", port, pki)
            await async_wait_until(lambda: failures.value == 3, timeout=TIMEOUT)
            assert await asyncio.to_thread(probe.http_healthy, router.metrics_url, good)
            assert failures.value == 3
        finally:
            await router.stop()

    run(body())


def test_an_https_server_counts_plain_http_sent_to_it(pki):
    async def body():
        registry = Registry()
        app = web.Application()

        async def ok(request: web.Request) -> web.Response:
            return web.Response(text="ok")

        app.router.add_get("/", ok)
        context = tls.https_server_context(pki.cert("gateway"), pki.key("gateway"),
                                           ("HTTP_CERT_PATH", "HTTP_KEY_PATH"))
        server = HttpServer(app, "127.0.0.1", 0, registry=registry, component="test", env="ADDR",
                            ssl_context=context)
        await server.start()
        try:
            failures = registry.get("tls_handshake_failures", listener="https")
            port = server.port

            def plain() -> None:
                with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as conn:
                    conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                    conn.recv(100)

            await asyncio.to_thread(plain)
            await async_wait_until(lambda: failures.value == 1, timeout=TIMEOUT)
        finally:
            await server.stop()

    run(body())
