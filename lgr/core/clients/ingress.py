"""IngressClient: sends envelopes to an agent over mTLS, in batches on one BatchSender stream.

Producers hand envelopes to :meth:`IngressClient.emit` (never blocks: a full buffer drops its
oldest envelope, counted) or ``await`` :meth:`IngressClient.send` (waits for room, for load
generators that must not lose anything). One sender task writes whatever is buffered, up to 100
envelopes per EnvelopeBatch, as soon as the previous write is done, so batches stay small at low
rates and grow under load. Never unary (DESIGN.md, performance model).

When the stream breaks, the batch being written is counted as failed, and the client reopens
the stream with backoff; as with upstream's clients, envelopes a broken stream had in flight may
be lost. ``sent`` counts envelopes handed to a live stream.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

import grpc

from lgr.core import tls
from lgr.core._proto.loggregator.v2 import envelope_pb2, ingress_pb2
from lgr.core.batching import fit
from lgr.core.clients.channel import connection_hint, describe, is_handshake_failure, secure_channel
from lgr.core.clients.defaults import TLS_ENV, AgentClientConfig
from lgr.core.envelope import join_batch
from lgr.core.errors import UnavailableError
from lgr.core.grpc_server import identity

log = logging.getLogger("lgr.clients.ingress")

BATCH_SENDER = "/loggregator.v2.Ingress/BatchSender"
BATCH_SIZE = 100
BUFFER_SIZE = 10_000


@dataclass
class IngressStats:
    """What an IngressClient did: envelopes sent, failed (in a broken write) and dropped (buffer)."""

    sent: int = 0
    failed: int = 0
    dropped: int = 0
    batches: int = 0
    reconnects: int = 0


class IngressClient:
    """Send envelopes to an agent's Ingress.BatchSender over mTLS. Use as ``async with``."""

    def __init__(
        self,
        address: str,
        credentials: grpc.ChannelCredentials,
        *,
        server_name: str = tls.AGENT_SERVER_NAME,
        batch_size: int = BATCH_SIZE,
        buffer_size: int = BUFFER_SIZE,
        backoff: tuple[float, float] = (0.05, 2.0),
    ) -> None:
        self.address = address
        self.stats = IngressStats()
        self.last_error: str | None = None
        self._credentials = credentials
        self._server_name = server_name
        self._batch_size = batch_size
        self._buffer_size = buffer_size
        self._backoff = backoff
        self._buffer: collections.deque[bytes] = collections.deque()
        self._channel: grpc.aio.Channel | None = None
        self._call: grpc.aio.StreamUnaryCall | None = None
        self._task: asyncio.Task[None] | None = None
        self._has_data = asyncio.Event()
        self._has_room = asyncio.Event()
        self._idle = asyncio.Event()
        self._has_room.set()
        self._idle.set()

    @classmethod
    def from_config(cls, config: AgentClientConfig, **kwargs) -> IngressClient:
        """A client for ``config.agent_addr`` with its mTLS files (checked now)."""
        creds = tls.client_credentials(config.ca_file, config.cert_file, config.key_file, env=TLS_ENV)
        return cls(config.agent_addr, creds, **kwargs)

    async def __aenter__(self) -> IngressClient:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Open the channel and start the sender task (the stream opens with the first batch)."""
        if self._channel is None:
            self._channel = secure_channel(self.address, self._credentials, self._server_name)
            self._task = asyncio.ensure_future(self._run())

    async def connect(self, timeout: float = 5.0) -> None:
        """Wait until the agent answers an empty BatchSender stream; raise UnavailableError if not.

        The probe carries no envelopes, so any Ingress server accepts it; its failure names the
        reason (connection refused, TLS handshake) instead of a later silent loss.
        """
        await self.start()
        assert self._channel is not None
        deadline = time.monotonic() + timeout
        reason = "timed out"
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or is_handshake_failure(reason):
                raise UnavailableError(
                    f"cannot reach the agent at {self.address}: {reason}",
                    hint=connection_hint(reason, "agent", "--agent-addr / LGR_AGENT_ADDR"),
                )
            call = self._stream(timeout=left, wait_for_ready=False)
            with contextlib.suppress(Exception):  # a failed call's status comes from `await call`
                await call.done_writing()
            try:
                await call
                return
            except grpc.aio.AioRpcError as exc:
                reason = describe(exc)
                if exc.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                    raise UnavailableError(
                        f"the agent at {self.address} refused the stream: {reason}",
                        hint="is that address an agent's gRPC port (loggregator.v2.Ingress)?",
                    ) from None
            await asyncio.sleep(min(0.1, max(0.0, deadline - time.monotonic())))

    def emit(self, env: envelope_pb2.Envelope | bytes) -> None:
        """Queue one envelope without blocking; a full buffer drops its oldest (counted)."""
        data = env if isinstance(env, bytes) else env.SerializeToString()
        if len(self._buffer) >= self._buffer_size:
            self._buffer.popleft()
            self.stats.dropped += 1
        self._buffer.append(data)
        self._wake()

    def emit_many(self, envs: Iterable[envelope_pb2.Envelope | bytes]) -> None:
        """Queue several envelopes without blocking (see :meth:`emit`)."""
        for env in envs:
            self.emit(env)

    async def send(self, env: envelope_pb2.Envelope | bytes) -> None:
        """Queue one envelope, waiting while the buffer is full: nothing is dropped."""
        while len(self._buffer) >= self._buffer_size:
            self._has_room.clear()
            await self._has_room.wait()
        self.emit(env)

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued has been written or failed; False on timeout."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def close(self, timeout: float = 5.0) -> None:
        """Flush, end the stream and wait for the agent's answer, then close the channel.

        Whatever is still queued after ``timeout`` is counted as failed.
        """
        if self._channel is None:
            return
        deadline = time.monotonic() + timeout
        await self.flush(timeout)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._buffer:
            self.stats.failed += len(self._buffer)
            self.last_error = self.last_error or "closed before the agent took everything"
            self._buffer.clear()
        call, self._call = self._call, None
        if call is not None and not call.done():
            try:
                await asyncio.wait_for(self._finish(call), max(0.1, deadline - time.monotonic()))
            except (grpc.aio.AioRpcError, TimeoutError, asyncio.InvalidStateError) as exc:
                self.last_error = self.last_error or describe(exc)  # keep the first cause
                call.cancel()
        await self._channel.close()
        self._channel = None

    @staticmethod
    async def _finish(call: grpc.aio.StreamUnaryCall) -> None:
        with contextlib.suppress(Exception):  # a failed call's status comes from `await call`
            await call.done_writing()
        await call

    def _stream(self, **kwargs) -> grpc.aio.StreamUnaryCall:
        assert self._channel is not None
        method = self._channel.stream_unary(
            BATCH_SENDER,
            request_serializer=identity,
            response_deserializer=ingress_pb2.BatchSenderResponse.FromString,
        )
        return method(**kwargs)

    def _wake(self) -> None:
        self._idle.clear()
        self._has_data.set()

    async def _run(self) -> None:
        delay = self._backoff[0]
        while True:
            if not self._buffer:
                self._idle.set()
                self._has_data.clear()
                await self._has_data.wait()
                continue
            n = min(len(self._buffer), self._batch_size)
            batch = [self._buffer.popleft() for _ in range(n)]
            self._has_room.set()
            if self._call is None:
                # wait_for_ready: during an agent outage the write waits for the reconnect
                # (the buffer keeps producers free) instead of failing fast in a loop.
                self._call = self._stream(wait_for_ready=True)
            runs, too_large = fit(batch)
            if too_large:
                self.stats.failed += len(too_large)
                # Reported once by the caller (lgr emit prints last_error), not logged per batch.
                self.last_error = (f"{len(too_large)} envelope(s) over the "
                                   f"{tls.MAX_MESSAGE_BYTES}-byte gRPC message limit not sent")
            written = 0
            try:
                for run in runs:
                    await self._call.write(join_batch(run))
                    written += len(run)
                    self.stats.sent += len(run)
                    self.stats.batches += 1
            except asyncio.CancelledError:
                self.stats.failed += n - len(too_large) - written  # closed while it waited for the agent
                raise
            except Exception as exc:  # noqa: BLE001 - any broken write: count, reconnect
                await self._broken(self._call, exc, n - len(too_large) - written)
                self._call = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff[1])
                continue
            delay = self._backoff[0]

    async def _broken(self, call: grpc.aio.StreamUnaryCall, exc: BaseException, lost: int) -> None:
        if isinstance(exc, asyncio.InvalidStateError):
            # The call had already ended; its status says why.
            try:
                await call
            except grpc.aio.AioRpcError as rpc_exc:
                exc = rpc_exc
            except Exception:  # noqa: BLE001 - only the reason is wanted here
                pass
        call.cancel()
        self.stats.failed += lost
        self.stats.reconnects += 1
        self.last_error = describe(exc)
        log.warning("ingress stream to %s broke (%s); %d envelopes lost, reconnecting",
                    self.address, self.last_error, lost)
