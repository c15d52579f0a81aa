"""UAA client: asks ``POST {uaa}/check_token`` what a bearer token is, as upstream's servers do.

The request is upstream's: form field ``token`` (without the ``bearer`` prefix), HTTP basic
auth with the configured client id and secret, ``Content-Type:
application/x-www-form-urlencoded``. The answer's ``scope``, ``user_id`` and ``client_id`` are
read; the status is kept because the gateway and the TC treat a non-200 differently.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass

from lgr.core.auth.cache import AnswerCache
from lgr.core.auth.http import HttpClient, UpstreamError
from lgr.core.auth.tokens import hash_token, strip_bearer
from lgr.core.metrics import Gauge


@dataclass(frozen=True)
class TokenInfo:
    """What UAA said about a token."""

    status: int
    scopes: frozenset[str]
    user_id: str = ""
    client_id: str = ""

    @property
    def valid(self) -> bool:
        """UAA answered 200."""
        return self.status == 200

    @property
    def name(self) -> str:
        """Who holds the token, for logs."""
        return self.user_id or self.client_id


class UaaClient:
    """Checks tokens with UAA; 200 answers are cached by token hash for ``cache.ttl``."""

    def __init__(self, addr: str, client_id: str, client_secret: str, http: HttpClient,
                 cache: AnswerCache, latency: Gauge | None = None) -> None:
        self._url = addr.rstrip("/") + "/check_token"
        credentials = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode("ascii")
        self._basic = f"Basic {credentials}"  # as Go's Request.SetBasicAuth
        self._http = http
        self._cache = cache
        self._latency = latency

    async def check(self, authorization: str) -> TokenInfo:
        """The token's info; UpstreamError when UAA cannot be asked or answers non-JSON."""
        token = strip_bearer(authorization)
        key = ("uaa", hash_token(token))
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        start = time.perf_counter_ns()
        status, body = await self._http.request(
            "POST", self._url, data={"token": token},
            headers={"Authorization": self._basic,
                     "Content-Type": "application/x-www-form-urlencoded"})
        if self._latency is not None:
            self._latency.set(time.perf_counter_ns() - start)
        info = parse_check_token(status, body)
        if info.valid:
            self._cache.put(key, info)
        return info

    async def close(self) -> None:
        await self._http.close()


def parse_check_token(status: int, body: bytes) -> TokenInfo:
    """Read a check_token answer; UpstreamError when the body is not a JSON object."""
    try:
        doc = json.loads(body or b"null")
    except ValueError as exc:
        raise UpstreamError(f"UAA answered {status} with a body that is not JSON") from exc
    if not isinstance(doc, dict):
        raise UpstreamError(f"UAA answered {status} without a JSON object")
    scopes = doc.get("scope") or []
    if not isinstance(scopes, list):
        scopes = []
    return TokenInfo(status, frozenset(str(s) for s in scopes),
                     str(doc.get("user_id") or ""), str(doc.get("client_id") or ""))
