"""Metrics endpoint: serves a Registry as Prometheus text on GET /metrics, over mutual TLS.

Upstream components serve their metrics over HTTPS that requires a client certificate
(METRICS_PORT with METRICS_CA_FILE_PATH, METRICS_CERT_FILE_PATH, METRICS_KEY_FILE_PATH). Without
certificate paths the endpoint serves plain HTTP on loopback only, for local use. A tiny asyncio
HTTP/1.1 server keeps this free of web-framework dependencies; it answers GET /metrics and
GET /health (200 "ok") and closes the connection after each response.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable

from lgr.core.errors import UnavailableError

log = logging.getLogger("lgr.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MAX_REQUEST_BYTES = 8192


class MetricsServer:
    """Serve ``render()`` on host:port (0 = any free port) with ``ssl_context`` when given."""

    def __init__(
        self,
        render: Callable[[], str],
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        component: str = "metrics",
    ) -> None:
        self._render = render
        self._host = host
        self._port = port
        self._ssl = ssl_context
        self._component = component
        self._server: asyncio.base_events.Server | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self._ssl else "http"
        return f"{scheme}://{self._host}:{self.port}/metrics"

    async def start(self) -> None:
        """Bind and start serving; sets ``port``."""
        if self._ssl is None and self._host not in ("127.0.0.1", "localhost", "::1"):
            raise UnavailableError(
                f"{self._component} metrics without TLS may only listen on loopback, not {self._host}",
                hint="set METRICS_CA_FILE_PATH, METRICS_CERT_FILE_PATH and METRICS_KEY_FILE_PATH",
            )
        try:
            self._server = await asyncio.start_server(
                self._handle, self._host, self._port, ssl=self._ssl, reuse_address=True
            )
        except OSError as exc:
            raise UnavailableError(
                f"{self._component} metrics could not bind {self._host}:{self._port}: {exc.strerror}",
                hint="choose another METRICS_PORT",
            ) from exc
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("%s metrics bound to: %s", self._component, self.url)

    async def stop(self) -> None:
        """Stop listening (idempotent)."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError,
                ConnectionError, ssl.SSLError):
            writer.close()
            return
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1", "replace")
        parts = request_line.split()
        method, path = (parts[0], parts[1].split("?", 1)[0]) if len(parts) >= 2 else ("", "")
        if method not in ("GET", "HEAD"):
            status, body, ctype = "405 Method Not Allowed", b"method not allowed\n", "text/plain"
        elif path == "/metrics":
            status, body, ctype = "200 OK", self._render().encode(), CONTENT_TYPE
        elif path == "/health":
            status, body, ctype = "200 OK", b"ok\n", "text/plain"
        else:
            status, body, ctype = "404 Not Found", b"not found\n", "text/plain"
        header = (
            f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        try:
            writer.write(header + (b"" if method == "HEAD" else body))
            await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()
