"""Test helpers for the log cache: configs, a running cache (alone or behind a router and RLP), HTTP."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.apps.cache.app import Cache
from lgr.core.apps.cache.config import CacheConfig
from lgr.core.apps.rlp.app import Rlp
from lgr.core.apps.router.app import Router
from lgr.core.config import load_config
from tests.core.apps.firehose_support import TIMEOUT, router_and_rlp, started
from tests.core.apps.gateway_support import Tokens

NS = 1_000_000_000
T0 = 1_700_000_000 * NS  # a whole second, so PromQL's truncation to seconds is easy to follow


def cache_config(tokens_file: Path | None = None, **overrides: Any) -> CacheConfig:
    """A cache on 127.0.0.1, any free port, metrics on any free port, no nozzle."""
    values: dict[str, Any] = {"addr": "127.0.0.1:0", "metrics_port": 0, **overrides}
    if tokens_file is not None:
        values.setdefault("tokens_file", str(tokens_file))
    return load_config(CacheConfig, env={}, overrides=values)


def nozzle_overrides(pki: Any, rlp_addr: str) -> dict[str, str]:
    """Settings that point the cache's nozzle at ``rlp_addr`` with the cache's certificate."""
    ca, cert, key = pki.files("cache")
    return {"logs_provider_addr": rlp_addr, "logs_provider_ca_file": str(ca),
            "logs_provider_cert_file": str(cert), "logs_provider_key_file": str(key)}


def put(cache: Cache, envelopes: Iterable[envelope_pb2.Envelope]) -> None:
    """Put envelopes straight into the cache's store (as the nozzle would)."""
    cache.store.put_envelopes(envelopes)


@dataclass
class Api:
    """An HTTP client of a running cache, with the tokens it accepts."""

    cache: Cache
    tokens: Tokens | None
    http: httpx.AsyncClient = field(repr=False)

    async def get(self, path: str, params: Any = None, token: str | None = "admin") -> httpx.Response:
        """GET ``path``; ``token`` is "admin", "reader", a raw token, or None for none."""
        headers = {}
        if token is not None and self.tokens is not None:
            raw = {"admin": self.tokens.admin, "reader": self.tokens.reader}.get(token, token)
            headers["Authorization"] = f"bearer {raw}"
        return await self.http.get(self.cache.url + path, params=params, headers=headers)


@contextlib.asynccontextmanager
async def running_cache(tmp_path: Path, open_access: bool = False, **overrides: Any) -> AsyncIterator[Api]:
    """A started cache (tokens in tmp_path unless access control is off) and a client for it."""
    toks = None if open_access else Tokens.make(tmp_path / "tokens.json")
    if open_access:
        overrides["disable_access_control"] = True
    cache = Cache(cache_config(toks.path if toks else None, **overrides))
    async with started(cache), httpx.AsyncClient(timeout=TIMEOUT) as http:
        yield Api(cache, toks, http)


@dataclass
class Firehose:
    router: Router
    rlp: Rlp
    cache: Cache
    tokens: Tokens


@contextlib.asynccontextmanager
async def cache_stack(pki: Any, tmp_path: Path, **overrides: Any) -> AsyncIterator[Firehose]:
    """Router → RLP → cache (its nozzle reading the RLP), on free ports; tokens in tmp_path."""
    toks = Tokens.make(tmp_path / "tokens.json")
    async with router_and_rlp(pki) as (router, rlp):
        cache = Cache(cache_config(toks.path, **nozzle_overrides(pki, rlp.address), **overrides))
        async with started(cache):
            yield Firehose(router, rlp, cache, toks)
