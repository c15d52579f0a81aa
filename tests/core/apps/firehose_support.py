"""Test helpers for the router and the RLP: configs, mTLS channels, started stacks, a sender and a
collector."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import grpc

from lgr.core import tls
from lgr.core._proto.loggregator.v2 import egress_pb2, envelope_pb2
from lgr.core.apps.rlp.app import Rlp
from lgr.core.apps.rlp.config import RlpConfig
from lgr.core.apps.router.app import Router
from lgr.core.apps.router.config import RouterConfig
from lgr.core.config import load_config
from lgr.core.grpc_server import identity
from tests.conftest import async_wait_until

TIMEOUT = 10.0
KINDS = ("log", "counter", "gauge", "timer", "event")


def run(coro: Coroutine[Any, Any, Any], timeout: float = 40.0) -> Any:
    """Run one test scenario on a fresh event loop, bounded."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def router_config(pki: Any, **overrides: Any) -> RouterConfig:
    """A router on 127.0.0.1, any free port, metrics on any free port, the router's certs."""
    ca, cert, key = pki.files("router")
    values = {"ca_file": str(ca), "cert_file": str(cert), "key_file": str(key), "port": 0,
              "metrics_port": 0, **overrides}
    return load_config(RouterConfig, env={}, overrides=values)


def rlp_config(pki: Any, routers: Sequence[str], **overrides: Any) -> RlpConfig:
    """An RLP reading ``routers``, on any free port, with the rlp's certs."""
    ca, cert, key = pki.files("rlp")
    values = {"ca_file": str(ca), "cert_file": str(cert), "key_file": str(key), "port": 0,
              "metrics_port": 0, "router_addrs": list(routers), **overrides}
    return load_config(RlpConfig, env={}, overrides=values)


def channel(pki: Any, address: str, server_name: str, name: str = "client",
            rogue: bool = False) -> grpc.aio.Channel:
    """An mTLS channel to ``address`` with ``name``'s cert (from the rogue CA when asked)."""
    certs = pki.rogue if rogue else pki
    creds = tls.client_credentials(*certs.files(name)) if not rogue else \
        grpc.ssl_channel_credentials(
            root_certificates=pki.ca.read_bytes(),
            private_key=certs.key(name).read_bytes(),
            certificate_chain=certs.cert(name).read_bytes())
    return grpc.aio.secure_channel(address, creds, options=tls.channel_options(server_name))


def selectors(*kinds: str, source_id: str = "") -> list[egress_pb2.Selector]:
    """One selector per kind (all five when none given) for ``source_id`` ("" = any)."""
    out = []
    for kind in kinds or KINDS:
        sel = egress_pb2.Selector(source_id=source_id)
        getattr(sel, kind).SetInParent()
        out.append(sel)
    return out


def every_kind(source_id: str = "app-1") -> list[envelope_pb2.Envelope]:
    """One envelope of each kind with every field set, tags and deprecated tags included."""
    base = dict(source_id=source_id, instance_id="3", tags={"deployment": "cf", "ip": "10.0.0.1"})
    log = envelope_pb2.Envelope(timestamp=1, **base)
    log.log.payload = b"hello \xff\x00 world"
    log.log.type = envelope_pb2.Log.ERR
    log.deprecated_tags["job"].text = "cell"
    log.deprecated_tags["index"].integer = -7
    log.deprecated_tags["load"].decimal = 1.5
    counter = envelope_pb2.Envelope(timestamp=2, **base)
    counter.counter.name = "requests"
    counter.counter.delta = 3
    counter.counter.total = 2**64 - 1
    gauge = envelope_pb2.Envelope(timestamp=3, **base)
    gauge.gauge.metrics["cpu"].value = 0.25
    gauge.gauge.metrics["cpu"].unit = "percentage"
    gauge.gauge.metrics["memory"].value = 1e21
    gauge.gauge.metrics["memory"].unit = "bytes"
    timer = envelope_pb2.Envelope(timestamp=4, **base)
    timer.timer.name = "http"
    timer.timer.start = -5
    timer.timer.stop = 2**63 - 1
    event = envelope_pb2.Envelope(timestamp=5, **base)
    event.event.title = "deployed ✓"
    event.event.body = "line 1\nline 2"
    return [log, counter, gauge, timer, event]


def log_envelope(i: int, source_id: str = "app", size: int = 0) -> envelope_pb2.Envelope:
    env = envelope_pb2.Envelope(timestamp=i + 1, source_id=source_id, instance_id=str(i))
    env.log.payload = f"msg-{i}".encode() + b"x" * size
    return env


async def send(ch: grpc.aio.Channel, envelopes: Iterable[envelope_pb2.Envelope],
               batch_size: int = 100) -> None:
    """Send ``envelopes`` on one BatchSender stream, in batches, and wait for the response."""
    envs = list(envelopes)
    batches = [envelope_pb2.EnvelopeBatch(batch=envs[i:i + batch_size]).SerializeToString()
               for i in range(0, len(envs), batch_size)]
    call = ch.stream_unary("/loggregator.v2.Ingress/BatchSender",
                           request_serializer=identity, response_deserializer=identity)
    await asyncio.wait_for(call(iter(batches)), TIMEOUT)


class Collector:
    """Reads a BatchedReceiver (or Receiver) stream in the background, keeping the envelopes."""

    def __init__(self, ch: grpc.aio.Channel, request: Any, method: str = "BatchedReceiver",
                 metadata: Sequence[tuple[str, str]] | None = None) -> None:
        self.envelopes: list[envelope_pb2.Envelope] = []
        self.batches = 0
        self.error: grpc.aio.AioRpcError | None = None
        parse = (envelope_pb2.EnvelopeBatch.FromString if method == "BatchedReceiver"
                 else envelope_pb2.Envelope.FromString)
        self._batched = method == "BatchedReceiver"
        rpc = ch.unary_stream(f"/loggregator.v2.Egress/{method}",
                              request_serializer=lambda r: r.SerializeToString(),
                              response_deserializer=parse)
        self.call = rpc(request, metadata=metadata)
        self._task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        try:
            async for msg in self.call:
                self.batches += 1
                if self._batched:
                    self.envelopes.extend(msg.batch)
                else:
                    self.envelopes.append(msg)
        except grpc.aio.AioRpcError as exc:
            self.error = exc

    async def ready(self) -> None:
        """Wait for the server's initial metadata (the subscription is in place)."""
        await asyncio.wait_for(self.call.initial_metadata(), TIMEOUT)

    async def status(self) -> grpc.StatusCode:
        """Wait for the stream to end; its status code."""
        await asyncio.wait_for(asyncio.shield(self._task), TIMEOUT)
        return self.error.code() if self.error else grpc.StatusCode.OK

    async def cancel(self) -> None:
        self.call.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def subscribed(routers: list[Any], n: int = 1) -> None:
    """Wait until each router holds ``n`` subscriptions (the RLP's streams are in place)."""
    await async_wait_until(lambda: all(len(r.egress.streams) == n for r in routers))


@contextlib.asynccontextmanager
async def started(*components: Any) -> AsyncIterator[None]:
    """Start components in order; stop them in reverse order, even on failure."""
    done = []
    try:
        for comp in components:
            await comp.start()
            done.append(comp)
        yield
    finally:
        for comp in reversed(done):
            await comp.stop(0.5)


@contextlib.asynccontextmanager
async def router_and_channel(pki: Any, name: str = "client", rogue: bool = False,
                             **overrides: Any) -> AsyncIterator[tuple[Router, grpc.aio.Channel]]:
    """Start a router; yield it with ``name``'s mTLS channel to it, closed before it stops."""
    router = Router(router_config(pki, **overrides))
    async with started(router), \
            channel(pki, router.address, "doppler", name=name, rogue=rogue) as ch:
        yield router, ch


@contextlib.asynccontextmanager
async def rlp_and_consumer(pki: Any, routers: Sequence[str], rogue: bool = False,
                           **overrides: Any) -> AsyncIterator[tuple[Rlp, grpc.aio.Channel]]:
    """Start an RLP reading ``routers``; yield it with a consumer's mTLS channel to it, closed
    before the RLP stops."""
    rlp = Rlp(rlp_config(pki, routers, **overrides))
    async with started(rlp), channel(pki, rlp.address, "reverselogproxy", rogue=rogue) as consumer:
        yield rlp, consumer


@contextlib.asynccontextmanager
async def router_and_rlp(pki: Any, router_overrides: Mapping[str, Any] | None = None,
                         **rlp_overrides: Any) -> AsyncIterator[tuple[Router, Rlp]]:
    """Start a router and an RLP reading it; stop them in reverse order."""
    router = Router(router_config(pki, **(router_overrides or {})))
    async with started(router):
        rlp = Rlp(rlp_config(pki, [router.address], **rlp_overrides))
        async with started(rlp):
            yield router, rlp


class RlpStack(NamedTuple):
    """A started router and RLP, a consumer's channel to the RLP and an agent's to the router."""

    router: Router
    rlp: Rlp
    consumer: grpc.aio.Channel
    agent: grpc.aio.Channel


@contextlib.asynccontextmanager
async def rlp_stack(pki: Any, router_overrides: Mapping[str, Any] | None = None,
                    **rlp_overrides: Any) -> AsyncIterator[RlpStack]:
    """Router → RLP with a consumer and an agent channel; the channels close before both stop."""
    async with router_and_rlp(pki, router_overrides, **rlp_overrides) as (router, rlp), \
            channel(pki, rlp.address, "reverselogproxy") as consumer, \
            channel(pki, router.address, "doppler", name="agent") as agent:
        yield RlpStack(router, rlp, consumer, agent)
