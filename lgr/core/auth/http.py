"""HTTP plumbing for UAA and CAPI: TLS contexts and a lazily made aiohttp session.

As upstream's clients: 20 s per request, no keep-alive, TLS 1.2 or later, the CA from a file,
an optional client certificate (CAPI's internal API wants mTLS), and SKIP_CERT_VERIFY.
"""

from __future__ import annotations

import ssl
from typing import Any

import aiohttp

from lgr.core.errors import TLSConfigError


class UpstreamError(Exception):
    """UAA or CAPI could not be reached, or answered with something unreadable."""


def client_context(ca_path: str = "", cert_path: str = "", key_path: str = "",
                   skip_verify: bool = False) -> ssl.SSLContext:
    """A TLS client context with the given CA (system roots when empty) and client cert."""
    try:
        context = ssl.create_default_context(cafile=ca_path or None)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if cert_path:
            context.load_cert_chain(cert_path, key_path or None)
    except (OSError, ssl.SSLError) as exc:
        raise TLSConfigError(f"cannot use {ca_path or cert_path}: {exc}") from exc
    if skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class HttpClient:
    """One aiohttp session per client, made on first use inside the running loop."""

    def __init__(self, ssl_context: ssl.SSLContext | None, timeout: float,
                 server_name: str = "") -> None:
        self._ssl = ssl_context
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._server_name = server_name
        self._session: aiohttp.ClientSession | None = None

    def _ensure(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self._ssl if self._ssl is not None else True,
                                             force_close=True)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
        return self._session

    async def request(self, method: str, url: str, **kwargs: Any) -> tuple[int, bytes]:
        """(status, body) of one request; UpstreamError when it cannot be made."""
        if self._server_name and url.startswith("https://"):
            kwargs.setdefault("server_hostname", self._server_name)
        try:
            async with self._ensure().request(method, url, allow_redirects=False,
                                              **kwargs) as resp:
                return resp.status, await resp.read()
        except (aiohttp.ClientError, TimeoutError, ssl.SSLError, OSError) as exc:
            raise UpstreamError(f"{method} {url.split('?')[0]} failed: {exc!r}") from exc

    async def close(self) -> None:
        """Close the session (idempotent)."""
        if self._session is not None:
            await self._session.close()
            self._session = None
