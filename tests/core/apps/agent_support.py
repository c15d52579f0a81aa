"""Test helpers for the agent: a recording router (a real mTLS Ingress server) and configs."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import grpc

from lgr.core import tls
from lgr.core._proto.events import envelope_pb2 as v1_envelope_pb2
from lgr.core._proto.loggregator.v2 import envelope_pb2, ingress_pb2
from lgr.core._proto.plumbing import doppler_pb2
from lgr.core.apps.agent.config import AgentConfig
from lgr.core.config import load_config
from lgr.core.envelope import split_batch
from lgr.core.grpc_server import start_server

TIMEOUT = 10.0


def run(coro: Coroutine[Any, Any, Any], timeout: float = 30.0) -> Any:
    """Run one test scenario on a fresh event loop, bounded; on a hang, print every task's stack."""

    async def main() -> Any:
        task = asyncio.ensure_future(coro)
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:
            for pending in asyncio.all_tasks():
                pending.print_stack(file=sys.stderr)
            task.cancel()
            raise AssertionError(f"scenario did not finish within {timeout}s (task stacks on stderr)")
        return task.result()

    return asyncio.run(main())


class RecordingRouter:
    """A router stand-in: a real Ingress and DopplerIngestor server (router cert, mTLS) that
    records what arrives: v2 batches, and v1 payloads pushed one per EnvelopeData."""

    def __init__(self, pki: Any, port: int = 0, batch_pusher: bool = True) -> None:
        self._pki = pki
        self._batch_pusher = batch_pusher  # False: only upstream's Pusher, as upstream's router
        self.port = port
        self.batches: list[list[envelope_pb2.Envelope]] = []
        self.v1_payloads: list[bytes] = []
        self._server: grpc.aio.Server | None = None

    @property
    def envelopes(self) -> list[envelope_pb2.Envelope]:
        return [env for batch in self.batches for env in batch]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def _batch_sender(self, requests: AsyncIterator[bytes], context: Any) -> bytes:
        async for data in requests:
            self.batches.append(list(envelope_pb2.EnvelopeBatch.FromString(data).batch))
        return ingress_pb2.BatchSenderResponse().SerializeToString()

    async def _pusher(self, requests: AsyncIterator[bytes], context: Any) -> bytes:
        async for data in requests:
            self.v1_payloads.append(doppler_pb2.EnvelopeData.FromString(data).payload)
        return b""

    async def _batch_pusher_handler(self, requests: AsyncIterator[bytes], context: Any) -> bytes:
        async for data in requests:
            self.v1_payloads.extend(split_batch(data))
        return b""

    @property
    def v1_envelopes(self) -> list[v1_envelope_pb2.Envelope]:
        return [v1_envelope_pb2.Envelope.FromString(p) for p in self.v1_payloads]

    async def start(self) -> RecordingRouter:
        def identity(b: bytes) -> bytes:
            return b

        handler = grpc.method_handlers_generic_handler("loggregator.v2.Ingress", {
            "BatchSender": grpc.stream_unary_rpc_method_handler(
                self._batch_sender, request_deserializer=identity, response_serializer=identity,
            ),
        })
        pusher = grpc.method_handlers_generic_handler("plumbing.DopplerIngestor", {
            "Pusher": grpc.stream_unary_rpc_method_handler(
                self._pusher, request_deserializer=identity, response_serializer=identity,
            ),
        })
        handlers = [handler, pusher]
        if self._batch_pusher:
            handlers.append(grpc.method_handlers_generic_handler("lgr.plumbing.DopplerIngestor", {
                "BatchPusher": grpc.stream_unary_rpc_method_handler(
                    self._batch_pusher_handler, request_deserializer=identity,
                    response_serializer=identity,
                ),
            }))
        creds = tls.server_credentials(*self._pki.files("router"))
        self._server, self.port = await start_server(handlers, "127.0.0.1", self.port,
                                                     creds, "router")
        return self

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(None)
            self._server = None


@contextlib.asynccontextmanager
async def routers(pki: Any, n: int = 1,
                  batch_pusher: bool = True) -> AsyncIterator[list[RecordingRouter]]:
    started = [await RecordingRouter(pki, batch_pusher=batch_pusher).start() for _ in range(n)]
    try:
        yield started
    finally:
        for router in started:
            await router.stop()


def agent_env(pki: Any, router_addr: str, **extra: str) -> dict[str, str]:
    """The environment `lgr agent start` would see: every port 0, the agent's certs."""
    env = {
        "ROUTER_ADDR": router_addr,
        "AGENT_CA_FILE": str(pki.ca),
        "AGENT_CERT_FILE": str(pki.cert("agent")),
        "AGENT_KEY_FILE": str(pki.key("agent")),
        "AGENT_PORT": "0",
        "AGENT_INCOMING_UDP_PORT": "0",
        "METRICS_PORT": "0",
    }
    env.update(extra)
    return env


def agent_config(pki: Any, router_addr: str, **extra: str) -> AgentConfig:
    return load_config(AgentConfig, env=agent_env(pki, router_addr, **extra))


def client_channel(pki: Any, port: int, name: str = "client") -> grpc.aio.Channel:
    """An mTLS channel to the agent as upstream clients dial it (server name "metron")."""
    creds = tls.client_credentials(*pki.files(name))
    return grpc.aio.secure_channel(
        f"127.0.0.1:{port}", creds, options=tls.channel_options(tls.AGENT_SERVER_NAME)
    )


def metric(agent: Any, name: str, **labels: str) -> float:
    return agent.metrics.get(name, **labels).value
