"""Test helpers for the traffic controller: configs, tokens, websocket clients and envelopes."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from lgr.core._proto.events import envelope_pb2 as v1
from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.apps.router.app import Router
from lgr.core.apps.tc.app import TrafficController
from lgr.core.apps.tc.config import TcConfig
from lgr.core.auth.tokens import mint
from lgr.core.config import load_config
from tests.conftest import async_wait_until
from tests.core.apps.firehose_support import channel, router_config, send, started

TIMEOUT = 10.0


@dataclass(frozen=True)
class Tokens:
    """A tokens file with an admin token and a reader of ``app-a`` only."""

    path: Path
    admin: str
    reader: str


def make_tokens(directory: Path) -> Tokens:
    path = directory / "tokens.json"
    admin, _ = mint(path, "admin", admin=True)
    reader, _ = mint(path, "reader", source_ids=["app-a"])
    return Tokens(path, admin, reader)


def tc_config(pki: Any, routers: Sequence[str], tokens: Tokens, **overrides: Any) -> TcConfig:
    """A controller on any free port reading ``routers`` with the tc certificate."""
    ca, cert, key = pki.files("tc")
    values = {"ca_file": str(ca), "cert_file": str(cert), "key_file": str(key), "port": 0,
              "metrics_port": 0, "router_addrs": list(routers), "tokens_file": str(tokens.path),
              **overrides}
    return load_config(TcConfig, env={}, overrides=values)


@contextlib.asynccontextmanager
async def system(pki: Any, tokens: Tokens, routers: int = 1, events_to_router: bool = False,
                 **overrides: Any) -> AsyncIterator[tuple[list[Router], TrafficController]]:
    """Routers and a controller reading them, started and stopped around the block.

    ``events_to_router``: the controller sends its metrics and events to the first router's
    Ingress (as it would to an agent, which forwards them there).
    """
    rs = [Router(router_config(pki)) for _ in range(routers)]
    if events_to_router:  # the first router also stands in for the agent ("metron")
        _, cert, key = pki.leaf("router-and-agent", ["doppler", "metron"])
        rs[0] = Router(router_config(pki, cert_file=str(cert), key_file=str(key)))
    async with started(*rs):
        if events_to_router:
            overrides["agent_addr"] = rs[0].address
        tc = TrafficController(tc_config(pki, [r.address for r in rs], tokens, **overrides))
        async with started(tc):
            yield rs, tc


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"bearer {token}"}


def ws(tc: TrafficController, path: str, headers: dict[str, str] | None = None,
       **kwargs: Any) -> Any:
    """A websockets client connection (use ``async with``) to ``path`` on ``tc``."""
    return connect(tc.url + path, additional_headers=headers or {}, open_timeout=TIMEOUT,
                   **kwargs)


async def subscribed(routers: Sequence[Router], n: int) -> None:
    """Wait until every router holds ``n`` subscriptions (the controller's streams are in)."""
    await async_wait_until(lambda: all(len(r.egress.streams) + len(r.v1.doppler.streams) == n
                                       for r in routers),
                           timeout=TIMEOUT)


async def publish(pki: Any, router: Router, envelopes: Sequence[envelope_pb2.Envelope]) -> None:
    """Send ``envelopes`` into ``router``'s Ingress as an agent would."""
    ch = channel(pki, router.address, "doppler", name="agent")
    try:
        await send(ch, envelopes)
    finally:
        await ch.close()


async def receive(conn: ClientConnection, n: int, timeout: float = TIMEOUT) -> list[v1.Envelope]:
    """The next ``n`` frames of ``conn``, parsed as dropsonde envelopes."""
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n:
        frame = await asyncio.wait_for(conn.recv(), max(0.01, deadline - time.monotonic()))
        assert isinstance(frame, bytes), "frames must be binary"
        out.append(v1.Envelope.FromString(frame))
    return out


async def receive_until_quiet(conn: ClientConnection, quiet: float = 0.3) -> list[v1.Envelope]:
    """Every frame until none comes for ``quiet`` seconds."""
    out = []
    while True:
        try:
            frame = await asyncio.wait_for(conn.recv(), quiet)
        except asyncio.TimeoutError:
            return out
        out.append(v1.Envelope.FromString(frame))


class FrameReader:
    """Reads a websocket in the background, keeping its frames as dropsonde envelopes."""

    def __init__(self, conn: ClientConnection) -> None:
        self.envelopes: list[v1.Envelope] = []
        self._task = asyncio.ensure_future(self._read(conn))

    async def _read(self, conn: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in conn:
                self.envelopes.append(v1.Envelope.FromString(frame))

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def app_log(source_id: str, text: str, ts: int | None = None) -> envelope_pb2.Envelope:
    env = envelope_pb2.Envelope(timestamp=ts or time.time_ns(), source_id=source_id,
                                instance_id="0", tags={"origin": "test", "deployment": "cf"})
    env.log.payload = text.encode()
    return env


def counter(source_id: str, name: str, delta: int = 1) -> envelope_pb2.Envelope:
    env = envelope_pb2.Envelope(timestamp=time.time_ns(), source_id=source_id)
    env.counter.name = name
    env.counter.delta = delta
    env.counter.total = delta
    return env


def container_metric(source_id: str, index: int, cpu: float,
                     ts: int | None = None) -> envelope_pb2.Envelope:
    env = envelope_pb2.Envelope(timestamp=ts or time.time_ns(), source_id=source_id,
                                instance_id=str(index))
    for name, value, unit in (("cpu", cpu, "percentage"), ("memory", 1024.0, "bytes"),
                              ("disk", 2048.0, "bytes"), ("memory_quota", 4096.0, "bytes"),
                              ("disk_quota", 8192.0, "bytes")):
        env.gauge.metrics[name].value = value
        env.gauge.metrics[name].unit = unit
    return env


def client_ssl(pki: Any) -> ssl.SSLContext:
    """A client context trusting the test CA (for wss:// and https://)."""
    context = ssl.create_default_context(cafile=str(pki.ca))
    return context
