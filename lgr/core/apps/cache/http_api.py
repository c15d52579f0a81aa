"""HTTP API: log cache's REST endpoints, answered as upstream's gateway and cf-auth-proxy answer them.

- ``GET /api/v1/read/{source_id}``: ``start_time`` and ``end_time`` (ns, ``[start, end)``; end
  defaults to now), ``envelope_types`` (repeatable: LOG, COUNTER, GAUGE, TIMER, EVENT, ANY, or
  their numbers), ``limit`` (default 100, at most 1000), ``descending``, ``name_filter``.
  Answer: ``{"envelopes":{"batch":[...]}}`` in protojson with proto field names.
- ``GET /api/v1/meta``: ``{"meta":{id:{"count":..., "expired":..., "oldestTimestamp":...,
  "newestTimestamp":...}}}`` as the auth proxy writes it (lowerCamel names, zeros left out);
  with access control off, as the gateway writes it (``oldest_timestamp``, zeros included).
- ``GET /api/v1/info``: ``{"version":..., "vm_uptime":...}``, no token needed.
- ``GET /api/v1/query`` (``query``, ``time``) and ``/api/v1/query_range`` (``query``, ``start``,
  ``end``, ``step``): lgr.core.apps.cache.promql.

Errors: a query parameter that does not parse is 400 with grpc-gateway's
``{"code":3,"message":...,"details":[]}``; so is a read the store refuses (limit over 1000 or
below 0, start after end, a bad name filter), with upstream's message (upstream answers those 500
with code 2: README, Differences from upstream). PromQL errors are
``{"status":"error","errorType":"bad_data"|"execution"|"internal",...}`` with 400, 422 or 500
(lgr.core.apps.cache.promql). Auth refusals are an
empty 404 (lgr.core.apps.cache.access); a PromQL request's token is checked before its query is
parsed. Every JSON body ends with a newline.
"""

from __future__ import annotations

import json
import re
import time

from aiohttp import web

from lgr.core.apps.cache import jsonenc, promql, reads
from lgr.core.apps.cache.access import Access
from lgr.core.apps.cache.metrics import CacheMetrics
from lgr.core.apps.cache.store import Store

API_VERSION = "3.0.0"  # the log-cache release whose API this serves; clients gate features on it
JSON = "application/json"
ENVELOPE_TYPES = {"ANY": 0, "LOG": 1, "COUNTER": 2, "GAUGE": 3, "TIMER": 4, "EVENT": 5}
_INT = re.compile(r"[+-]?\d+\Z")
_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
          "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}
_INT64 = (-(2**63), 2**63 - 1)


class ParamError(Exception):
    """A query parameter that does not parse (grpc-gateway's InvalidArgument)."""


def _json(status: int, body: bytes) -> web.Response:
    return web.Response(status=status, body=body, content_type=JSON)


def _status_error(status: int, code: int, message: str) -> web.Response:
    doc = {"code": code, "message": message, "details": []}
    return _json(status, (json.dumps(doc, separators=(",", ":"), ensure_ascii=False) + "\n").encode())


def _not_found() -> web.Response:
    return web.Response(status=404)


class HttpApi:
    """The aiohttp application for the cache: ``app`` serves every route."""

    def __init__(self, store: Store, engine: promql.Engine, access: Access,
                 metrics: CacheMetrics) -> None:
        self.store = store
        self.engine = engine
        self.access = access
        self.metrics = metrics
        self.app = web.Application()
        routes = self.app.router
        routes.add_route("*", "/api/v1/read/{source_id:.*}", self.read)
        routes.add_route("*", "/api/v1/meta", self.meta)
        routes.add_route("*", "/api/v1/info", self.info)
        routes.add_route("*", "/api/v1/query", self.query)
        routes.add_route("*", "/api/v1/query_range", self.query_range)
        routes.add_route("*", "/{tail:.*}", self.not_found)

    async def not_found(self, request: web.Request) -> web.Response:
        """grpc-gateway's answer for a path it has no route for."""
        return _status_error(404, 5, "Not Found")

    async def info(self, request: web.Request) -> web.Response:
        """Version and host uptime; clients read the version to pick API paths and features."""
        body = json.dumps({"version": API_VERSION, "vm_uptime": str(_uptime())}, separators=(",", ":"))
        return _json(200, (body + "\n").encode())

    async def read(self, request: web.Request) -> web.Response:
        """Envelopes of one source id, filtered and paged by the query parameters."""
        source_id = request.match_info["source_id"]
        if not source_id:
            return _not_found()
        if not await self.access.may_read(request.headers.get("Authorization"), [source_id]):
            return _not_found()
        if request.method != "GET":
            return _status_error(501, 12, "Method Not Allowed")
        try:
            q = _read_params(request)
        except ParamError as exc:
            return _status_error(400, 3, str(exc))
        try:
            envelopes = reads.read(self.store, reads.ReadQuery(source_id, **q))
        except reads.ReadError as exc:
            return _status_error(400, 3, str(exc))
        self.metrics.sync(self.store)
        return _json(200, jsonenc.read_response(envelopes))

    async def meta(self, request: web.Request) -> web.Response:
        """Count, expired, oldest and newest timestamp of each source the token may read."""
        metas = self.store.meta()
        allowed = await self.access.readable(request.headers.get("Authorization"), metas)
        if allowed is None:
            return _not_found()
        if self.access.open:  # no auth proxy: the gateway's own JSON
            rows = {sid: {"count": str(m.count), "expired": str(m.expired),
                          "oldest_timestamp": str(m.oldest_timestamp),
                          "newest_timestamp": str(m.newest_timestamp)}
                    for sid, m in sorted(metas.items())}
        else:
            rows = {}
            for sid in sorted(allowed):
                m = metas[sid]
                row = {"count": m.count, "expired": m.expired, "oldestTimestamp": m.oldest_timestamp,
                       "newestTimestamp": m.newest_timestamp}
                rows[sid] = {k: str(v) for k, v in row.items() if v}
        body = {"meta": rows} if rows or self.access.open else {}
        return _json(200, (json.dumps(body, separators=(",", ":"), ensure_ascii=False) + "\n").encode())

    async def query(self, request: web.Request) -> web.Response:
        """A PromQL instant query."""
        return await self._promql(request, instant=True)

    async def query_range(self, request: web.Request) -> web.Response:
        """A PromQL range query."""
        return await self._promql(request, instant=False)

    async def _promql(self, request: web.Request, instant: bool) -> web.Response:
        authorization = request.headers.get("Authorization")
        if not self.access.open and not await self.access.known(authorization):
            return _not_found()  # before the query is even parsed
        params = request.query
        started = time.monotonic()
        try:
            tree = promql.parse_query(params.get("query", ""))
            if not self.access.open:  # upstream's auth proxy: the query must name what it reads
                ids = promql.source_ids(tree)
                if not ids:
                    raise promql.QueryError("query does not request any source_ids", promql.BAD_DATA)
                if not await self.access.may_read(authorization, ids):
                    return _not_found()
            if instant:
                body = await self.engine.instant(tree, params.get("time", ""))
            else:
                body = await self.engine.range(tree, params.get("start", ""), params.get("end", ""),
                                               params.get("step", ""))
        except promql.QueryError as exc:
            if exc.kind == promql.INTERNAL:
                self.metrics.promql_errors.inc()
            return _json(exc.status, exc.body)
        finally:
            gauge = self.metrics.instant_query_time if instant else self.metrics.range_query_time
            gauge.set((time.monotonic() - started) * 1000)
            self.metrics.sync(self.store)
        return _json(200, body)


def _read_params(request: web.Request) -> dict:
    """ReadRequest's fields from the query string, parsed as grpc-gateway parses them."""
    query = request.query
    out: dict = {"start_time": 0, "end_time": 0, "limit": 0, "descending": False,
                 "name_filter": "", "envelope_types": []}
    for name in ("start_time", "end_time", "limit", "descending", "name_filter"):
        values = query.getall(name, [])
        if not values:
            continue
        if len(values) > 1:
            raise ParamError(f"too many values for field {name!r}: {', '.join(values)}")
        out[name] = _parse_field(name, values[0])
    for value in query.getall("envelope_types", []):
        out["envelope_types"].append(_parse_type(value))
    return out


def _parse_field(name: str, value: str):  # noqa: ANN202
    if name == "name_filter":
        return value
    if name == "descending":
        if value not in _BOOLS:
            raise ParamError(f'parsing field "{name}": strconv.ParseBool: parsing "{value}": invalid syntax')
        return _BOOLS[value]
    if not _INT.match(value):
        raise ParamError(f'parsing field "{name}": strconv.ParseInt: parsing "{value}": invalid syntax')
    number = int(value)
    if not _INT64[0] <= number <= _INT64[1]:
        raise ParamError(f'parsing field "{name}": strconv.ParseInt: parsing "{value}": value out of range')
    return number


def _parse_type(value: str) -> int:
    if value in ENVELOPE_TYPES:
        return ENVELOPE_TYPES[value]
    if _INT.match(value) and int(value) in ENVELOPE_TYPES.values():
        return int(value)
    raise ParamError(f'parsing field "envelope_types": {value!r} is not a valid value')


def _uptime() -> int:
    try:
        with open("/proc/uptime", encoding="ascii") as f:
            return int(float(f.read().split()[0]))
    except (OSError, ValueError, IndexError):
        return int(time.monotonic())
