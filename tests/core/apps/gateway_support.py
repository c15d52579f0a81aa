"""Test helpers for the RLP gateway: a real router + RLP + gateway, tokens, an SSE reader."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.apps.gateway.app import Gateway
from lgr.core.apps.gateway.config import GatewayConfig
from lgr.core.apps.rlp.app import Rlp
from lgr.core.apps.router.app import Router
from lgr.core.auth import tokens
from lgr.core.config import load_config
from tests.core.apps.firehose_support import TIMEOUT, router_and_rlp, started

NOT_FOUND_BODY = b'{"message":"resource not found","error":"not_found"}\n\n'


def gateway_config(pki: Any, rlp_addr: str, tokens_file: Path, **overrides: Any) -> GatewayConfig:
    """A gateway on 127.0.0.1, any free port, the gateway's certs, reading ``rlp_addr``."""
    ca, cert, key = pki.files("gateway")
    values = {"gateway_addr": "127.0.0.1:0", "http_cert_path": str(cert), "http_key_path": str(key),
              "logs_provider_addr": rlp_addr, "logs_provider_ca_path": str(ca),
              "logs_provider_client_cert_path": str(cert),
              "logs_provider_client_key_path": str(key), "tokens_file": str(tokens_file),
              "metrics_port": 0, **overrides}
    return load_config(GatewayConfig, env={}, overrides=values)


@dataclass
class Tokens:
    """An admin token and a reader of source "app-1" (and a GUID) in ``path``."""

    path: Path
    admin: str = ""
    reader: str = ""

    @classmethod
    def make(cls, path: Path) -> Tokens:
        admin, _ = tokens.mint(path, "admin", admin=True)
        reader, _ = tokens.mint(path, "reader", source_ids=["app-1"])
        return cls(path, admin, reader)


@dataclass
class Stack:
    router: Router
    rlp: Rlp
    gateway: Gateway
    tokens: Tokens
    client: httpx.AsyncClient = field(repr=False)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.gateway.port}/v2/read"

    async def subscribed(self, n: int = 1) -> None:
        """Wait until the router holds ``n`` subscriptions (the gateway's streams are in place)."""
        from tests.conftest import async_wait_until

        await async_wait_until(lambda: len(self.router.egress.streams) == n, timeout=TIMEOUT)


def https_client(pki: Any) -> httpx.AsyncClient:
    """An httpx client that trusts the test CA (and presents no client certificate)."""
    return httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(pki.ca)),
                             timeout=httpx.Timeout(TIMEOUT))


@contextlib.asynccontextmanager
async def gateway_stack(pki: Any, tmp_path: Path, **overrides: Any) -> AsyncIterator[Stack]:
    """Router → RLP → gateway, all started on free ports; tokens minted in tmp_path."""
    toks = Tokens.make(tmp_path / "tokens.json")
    async with router_and_rlp(pki) as (router, rlp):
        gw = Gateway(gateway_config(pki, rlp.address, toks.path, **overrides))
        async with started(gw), https_client(pki) as client:
            yield Stack(router, rlp, gw, toks, client)


class SseReader:
    """Reads a /v2/read response in the background, splitting it into events."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.events: list[dict[str, str]] = []
        self.raw = b""
        self.ended = asyncio.Event()
        self._task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        try:
            async for chunk in self.response.aiter_raw():
                self.raw += chunk
                while b"\n\n" in self.raw:
                    frame, self.raw = self.raw.split(b"\n\n", 1)
                    self.events.append(parse_event(frame.decode()))
        except (httpx.HTTPError, asyncio.CancelledError):
            pass
        finally:
            self.ended.set()

    def envelopes(self) -> list[envelope_pb2.Envelope]:
        """Every envelope in the data events so far, decoded from their JSON."""
        from google.protobuf import json_format

        out = []
        for ev in self.events:
            if ev.get("event", "") == "" and "data" in ev:
                batch = json_format.Parse(ev["data"], envelope_pb2.EnvelopeBatch())
                out.extend(batch.batch)
        return out

    def of(self, kind: str) -> list[dict[str, str]]:
        return [e for e in self.events if e.get("event") == kind]

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self.response.aclose()


def parse_event(frame: str) -> dict[str, str]:
    """One SSE frame (without its blank line) as {"event": ..., "data": ...}."""
    event: dict[str, str] = {}
    for line in frame.split("\n"):
        key, _, value = line.partition(": ")
        event[key] = value
    return event


@contextlib.asynccontextmanager
async def sse(stack: Stack, params: Any, token: str | None) -> AsyncIterator[SseReader]:
    """Open /v2/read with ``params`` as ``token``; yields a reader of its events."""
    headers = {"Authorization": f"bearer {token}"} if token else {}
    request = stack.client.build_request("GET", stack.url, params=params, headers=headers)
    response = await asyncio.wait_for(stack.client.send(request, stream=True), TIMEOUT)
    assert response.status_code == 200, (response.status_code, await response.aread())
    reader = SseReader(response)
    try:
        yield reader
    finally:
        await reader.close()


def batch_json(envs: list[envelope_pb2.Envelope]) -> Any:
    """The parsed JSON a batch of ``envs`` prints as."""
    from lgr.core import protojson

    return json.loads(protojson.batch_json(envs))
