"""CAPI client: asks Cloud Controller whether a token may read a source's logs.

Upstream's calls, with the caller's ``Authorization`` value passed through unchanged:
``GET {internal}/internal/v4/log_access/{id}`` (200 = may read), and for the gateway, when that
says no, ``GET {external}/v2/service_instances/{id}`` (a service instance the token can see).
Granting answers are cached per token hash and source id for ``cache.ttl``.
"""

from __future__ import annotations

import time
from urllib.parse import quote

from lgr.core.auth.cache import AnswerCache
from lgr.core.auth.http import HttpClient
from lgr.core.auth.tokens import hash_token
from lgr.core.metrics import Gauge


class CapiClient:
    """Log-access checks against CAPI's internal (mTLS) and external APIs."""

    def __init__(self, internal_addr: str, external_addr: str, internal: HttpClient,
                 external: HttpClient, cache: AnswerCache,
                 latency: dict[str, Gauge] | None = None) -> None:
        self._internal_addr = internal_addr.rstrip("/")
        self._external_addr = external_addr.rstrip("/")
        self._internal = internal
        self._external = external
        self._cache = cache
        self._latency = latency or {}

    async def log_access(self, authorization: str, source_id: str) -> int:
        """CAPI's status for ``/internal/v4/log_access/{source_id}``; UpstreamError on failure."""
        key = ("log_access", hash_token(authorization), source_id)
        if self._cache.get(key):
            return 200
        url = f"{self._internal_addr}/internal/v4/log_access/{quote(source_id, safe='')}"
        status = await self._get(self._internal, url, authorization, "log_access")
        if status == 200:
            self._cache.put(key, True)
        return status

    async def service_instance_access(self, authorization: str, source_id: str) -> bool:
        """True when the external API shows ``/v2/service_instances/{source_id}`` to the token."""
        if not self._external_addr:
            return False
        key = ("service_instance", hash_token(authorization), source_id)
        if self._cache.get(key):
            return True
        url = f"{self._external_addr}/v2/service_instances/{quote(source_id, safe='')}"
        ok = await self._get(self._external, url, authorization, "service_instances") == 200
        if ok:
            self._cache.put(key, True)
        return ok

    async def _get(self, http: HttpClient, url: str, authorization: str, which: str) -> int:
        start = time.perf_counter_ns()
        try:
            status, _ = await http.request("GET", url, headers={"Authorization": authorization})
        finally:
            gauge = self._latency.get(which)
            if gauge is not None:
                gauge.set(time.perf_counter_ns() - start)
        return status

    async def close(self) -> None:
        await self._internal.close()
        await self._external.close()
