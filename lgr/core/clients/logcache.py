"""LogCacheClient: reads a log cache's HTTP API (lgr's or upstream's): envelopes, meta, PromQL.

Usage (inside a running event loop)::

    async with LogCacheClient.from_config(load_client_config(CacheClientConfig)) as cache:
        last = await cache.tail("app-guid", 10)                 # the newest 10, oldest first
        async for page in cache.walk("app-guid", start_time=t0):  # everything since t0, in pages
            ...
        metas = await cache.meta()                              # {source_id: MetaInfo}
        answer = await cache.query('rate(requests{source_id="app-guid"}[1m])')

Envelopes come back as ``loggregator.v2.Envelope`` messages. Envelope types are log cache's
names (``LOG``, ``COUNTER``, ``GAUGE``, ``TIMER``, ``EVENT``; lower case is accepted). Requests
carry ``Authorization: bearer TOKEN`` when a token is given (:meth:`LogCacheClient.read` also
takes one per call, for a server reading on behalf of its callers). Failures raise
:class:`LogCacheError` (the cache answered with an error; ``status`` holds the HTTP status) or
UnavailableError (it could not be reached); a 404 with an empty body is the auth proxy refusing
the token.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp
from google.protobuf import json_format

from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.clients.defaults import CacheClientConfig, https_context
from lgr.core.errors import LgrError, UnavailableError

MAX_LIMIT = 1000
ENVELOPE_TYPES = ("ANY", "LOG", "COUNTER", "GAUGE", "TIMER", "EVENT")
_ADDR_HINT = "is `lgr cache start` running there? set --cache-addr or LGR_CACHE_ADDR"
_TOKEN_HINT = "pass a token that may read it with --token or LGR_TOKEN (`lgr token create`)"


class LogCacheError(LgrError):
    """The log cache answered a request with an error; ``status`` is the HTTP status."""

    exit_code = UnavailableError.exit_code

    def __init__(self, message: str, status: int, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.status = status


@dataclass(frozen=True)
class MetaInfo:
    """What the cache holds for one source id."""

    count: int
    expired: int
    oldest_timestamp: int
    newest_timestamp: int


def _envelope_type(name: str) -> str:
    upper = name.upper()
    if upper not in ENVELOPE_TYPES:
        raise ValueError(f"unknown envelope type {name!r} (use {', '.join(ENVELOPE_TYPES)})")
    return upper


class LogCacheClient:
    """An HTTP client of one log cache at ``url`` (``http(s)://host:port``)."""

    def __init__(self, url: str, token: str = "", ssl_context: ssl.SSLContext | None = None,
                 timeout: float = 10.0, server_hostname: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self._ssl = ssl_context
        self._server_hostname = server_hostname or None  # the name the HTTPS certificate must carry
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_config(cls, config: CacheClientConfig, timeout: float = 10.0) -> LogCacheClient:
        """A client for ``config.cache_url`` with its token; HTTPS trusts ``config.ca_file`` when
        that file exists, else the system's roots."""
        return cls(config.cache_url, config.token, https_context(config.cache_url, config.ca_file), timeout)

    async def __aenter__(self) -> LogCacheClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection pool (idempotent)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def info(self) -> dict[str, str]:
        """``{"version": ..., "vm_uptime": ...}`` of the cache."""
        return json.loads(await self._get("/api/v1/info"))

    async def read(self, source_id: str, start_time: int = 0, end_time: int | None = None,
                   envelope_types: Iterable[str] = (), limit: int | None = None,
                   descending: bool = False, name_filter: str | None = None, *,
                   token: str | None = None) -> list[envelope_pb2.Envelope]:
        """One read: envelopes of ``source_id`` with ``start_time <= timestamp < end_time`` (ns);
        ``token`` (when given) is sent instead of the client's own."""
        params: list[tuple[str, str]] = [("start_time", str(start_time))]
        if end_time is not None:
            params.append(("end_time", str(end_time)))
        params += [("envelope_types", _envelope_type(t)) for t in envelope_types]
        if limit is not None:
            params.append(("limit", str(limit)))
        if descending:
            params.append(("descending", "true"))
        if name_filter:
            params.append(("name_filter", name_filter))
        body = await self._get(f"/api/v1/read/{_quote(source_id)}", params, source_id, token=token)
        batch = json.loads(body).get("envelopes") or {}
        return list(json_format.ParseDict(batch, envelope_pb2.EnvelopeBatch()).batch)

    async def tail(self, source_id: str, lines: int, start_time: int = 0, end_time: int | None = None,
                   envelope_types: Iterable[str] = (), name_filter: str | None = None,
                   ) -> list[envelope_pb2.Envelope]:
        """The newest ``lines`` (at most 1000) envelopes in the range, oldest first."""
        if lines <= 0:
            return []
        envs = await self.read(source_id, start_time, end_time, envelope_types, min(lines, MAX_LIMIT),
                               True, name_filter)
        return envs[::-1]

    async def walk(self, source_id: str, start_time: int = 0, end_time: int | None = None,
                   envelope_types: Iterable[str] = (), name_filter: str | None = None,
                   page: int = MAX_LIMIT) -> AsyncIterator[list[envelope_pb2.Envelope]]:
        """Every envelope in the range, oldest first, a page (one read) at a time.

        Ends at ``end_time``, or with no end, at the first page that comes back empty."""
        types = list(envelope_types)
        end = end_time if end_time is not None else time.time_ns()
        start = start_time
        while start < end:
            envs = await self.read(source_id, start, end, types, page, False, name_filter)
            if not envs:
                return
            yield envs
            start = envs[-1].timestamp + 1

    async def meta(self) -> dict[str, MetaInfo]:
        """Every source id the cache holds (that the token may read), with its counts."""
        doc = json.loads(await self._get("/api/v1/meta"))
        out = {}
        for sid, m in (doc.get("meta") or {}).items():
            def field(*names: str) -> int:
                return next((int(m[n]) for n in names if n in m), 0)  # noqa: B023
            out[sid] = MetaInfo(field("count"), field("expired"),
                                field("oldestTimestamp", "oldest_timestamp"),
                                field("newestTimestamp", "newest_timestamp"))
        return out

    async def query(self, query: str, time_s: float | None = None) -> dict[str, Any]:
        """A PromQL instant query; the Prometheus API's JSON answer (``status``, ``data``)."""
        params = [("query", query)] + ([("time", f"{time_s:.3f}")] if time_s is not None else [])
        return json.loads(await self._get("/api/v1/query", params, promql=True))

    async def query_range(self, query: str, start_s: float, end_s: float, step: str) -> dict[str, Any]:
        """A PromQL range query over ``[start_s, end_s]`` every ``step`` (``15s``, ``1m``, ``30``)."""
        params = [("query", query), ("start", f"{start_s:.3f}"), ("end", f"{end_s:.3f}"), ("step", step)]
        return json.loads(await self._get("/api/v1/query_range", params, promql=True))

    async def _get(self, path: str, params: list[tuple[str, str]] | None = None,
                   source_id: str | None = None, promql: bool = False,
                   token: str | None = None) -> bytes:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        token = self.token if token is None else token
        headers = {"Authorization": f"bearer {token}"} if token else {}
        extra = {"server_hostname": self._server_hostname} if self._server_hostname else {}
        try:
            async with self._session.get(self.url + path, params=params, headers=headers,
                                         ssl=self._ssl if self._ssl is not None else True,
                                         **extra) as resp:
                body = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            reason = str(exc) or type(exc).__name__
            raise UnavailableError(f"cannot reach the log cache at {self.url}: {reason}",
                                   hint=_ADDR_HINT) from None
        if status == 200 or (promql and status in (400, 500) and body.startswith(b"{")):
            if promql and status != 200:
                doc = json.loads(body)
                raise LogCacheError(f"the log cache rejected the query: {doc.get('error')}", status)
            return body
        raise _error(self.url, path, status, body, source_id)


def _error(url: str, path: str, status: int, body: bytes, source_id: str | None) -> LogCacheError:
    if status == 404 and not body.strip():
        what = f"source {source_id!r}" if source_id else path
        return LogCacheError(f"the log cache at {url} refused to serve {what} (404)", status,
                             hint=_TOKEN_HINT)
    try:
        message = json.loads(body).get("message") or body.decode("utf-8", "replace").strip()
    except (ValueError, AttributeError):
        message = body.decode("utf-8", "replace").strip()
    hint = _ADDR_HINT if status == 404 else None
    return LogCacheError(f"the log cache at {url} answered {status}: {message}", status, hint)


def _quote(source_id: str) -> str:
    from urllib.parse import quote

    return quote(source_id, safe="")


__all__ = ["ENVELOPE_TYPES", "LogCacheClient", "LogCacheError", "MetaInfo"]
