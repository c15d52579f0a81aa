"""Router stream: one BatchSender (or v1 Pusher) stream to a router, kept up by reconnecting.

Each stream owns its own channel (a local subchannel pool, so five streams are five
connections as upstream's five conn managers are). It connects to the address its pool assigns,
offers itself to the pool when idle, writes one batch at a time, and when the call breaks (a
write fails, or the router ends the stream) it moves on to the next address and reconnects with
exponential backoff. After ``max_writes`` writes it closes cleanly and reconnects elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from typing import TYPE_CHECKING

import grpc

from lgr.core.grpc_server import format_address, identity
from lgr.core.tls import ROUTER_SERVER_NAME, channel_options

if TYPE_CHECKING:
    from lgr.core.apps.agent.egress import Address, RouterPool

log = logging.getLogger("lgr.agent")

CONNECT_TIMEOUT = 5.0
# Upstream's keepalive.ClientParameters{Time: 15s, Timeout: 15s, PermitWithoutStream: true}; a
# short reconnect backoff so a restarted router is found again within about a second.
CHANNEL_OPTIONS = [
    ("grpc.keepalive_time_ms", 15000),
    ("grpc.keepalive_timeout_ms", 15000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.use_local_subchannel_pool", 1),
]
_READY = grpc.ChannelConnectivity.READY
_FAILED = (grpc.ChannelConnectivity.TRANSIENT_FAILURE, grpc.ChannelConnectivity.SHUTDOWN)


class RouterStream:
    """Stream ``index`` of ``pool``; ``run()`` keeps it connected until cancelled."""

    def __init__(self, pool: RouterPool, index: int, max_writes: int) -> None:
        self._pool = pool
        self.index = index
        self._max_writes = max_writes
        self.generation = 0
        self.connected = False
        self.busy = False
        self.address: Address | None = None
        self.method = ""
        self._shift = index
        self._failures = 0
        self._writes = 0
        self._recycle = False
        self._channel: grpc.aio.Channel | None = None
        self._call: grpc.aio.StreamUnaryCall | None = None
        self._broken = asyncio.Event()
        self._watch: asyncio.Task[None] | None = None
        self._write_task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Connect, serve until broken, move on, repeat (until cancelled)."""
        low, high = self._pool.backoff
        delay = low
        while True:
            preferred, everything = await self._pool.candidates()
            choices = preferred if self._failures < len(preferred) else everything
            if choices:
                address = choices[self._shift % len(choices)]
                try:
                    await self._connect(address)
                except (OSError, asyncio.TimeoutError, grpc.RpcError) as exc:
                    # Say it once per outage, not once per retry.
                    level = logging.WARNING if self._failures == 0 else logging.DEBUG
                    log.log(level, "agent: cannot reach router %s: %s", format_address(*address), exc)
                    self._failures += 1
                    self._shift += 1
                else:
                    self._failures = 0
                    await self._broken.wait()
                    recycled = self._recycle
                    if self._writes:
                        delay = low  # it worked for a while; a router that refuses at once backs off
                    await self._disconnect(graceful=recycled, timeout=1.0)
                    self._shift += 1
                    if recycled:
                        continue
            # Jitter so the streams of many agents do not reconnect in step.
            await asyncio.sleep(delay * (0.5 + random.random() / 2))
            delay = min(delay * 2, high)

    async def _connect(self, address: Address) -> None:
        target = format_address(*address)
        channel = grpc.aio.secure_channel(
            target, self._pool.credentials,
            options=channel_options(ROUTER_SERVER_NAME) + CHANNEL_OPTIONS,
        )
        try:
            # asyncio.timeout, not wait_for: 3.11's wait_for can lose a cancellation that races
            # with the result, which would leave this loop running after the pool stopped.
            async with asyncio.timeout(CONNECT_TIMEOUT):
                await _ready(channel, target)
            method = self._pool.method_for(address)
            call = channel.stream_unary(
                method, request_serializer=identity,
                response_deserializer=identity,  # BatchSenderResponse or PushResponse: empty
            )()
        except BaseException:
            await channel.close()
            raise
        self._channel, self._call, self.address = channel, call, address
        self.method = method
        self.generation += 1
        self._writes = 0
        self._recycle = False
        self._broken.clear()
        self.connected = True
        self._pool.streams_gauge.inc()
        self._pool.connections_gauge.inc()
        log.info("agent: stream %d established to router %s", self.index, target)
        self._watch = asyncio.ensure_future(self._watch_call(call, self.generation))
        self._pool.release(self, self.generation)

    async def _watch_call(self, call: grpc.aio.StreamUnaryCall, generation: int) -> None:
        # The call only ends when the router ends it or the connection breaks.
        with contextlib.suppress(Exception):
            await call
        with contextlib.suppress(Exception):
            if await call.code() == grpc.StatusCode.UNIMPLEMENTED and self.address is not None:
                self._pool.unimplemented(self.address, call)
        if generation == self.generation and self.connected:
            self._mark_broken("the router ended the stream")

    def _mark_broken(self, reason: str) -> None:
        if self.connected and not self._broken.is_set():
            target = format_address(*self.address) if self.address else "?"
            log.warning("agent: stream %d to router %s broke: %s", self.index, target, reason)
            self._broken.set()

    def send(self, messages: list[tuple[bytes, int]]) -> None:
        """Write EnvelopeBatches, each ``(bytes, envelope count)``, in order in the background;
        the stream is busy until they are written."""
        self.busy = True
        self._write_task = asyncio.ensure_future(self._write(messages, self.generation))

    async def _write(self, messages: list[tuple[bytes, int]], generation: int) -> None:
        pool = self._pool
        call = self._call
        for i, (data, count) in enumerate(messages):
            try:
                assert call is not None
                await call.write(data)
            except asyncio.CancelledError:
                pool.drop(sum(n for _, n in messages[i:]))
                self.busy = False
                raise
            except Exception as exc:  # noqa: BLE001 - any failure of the call is a broken stream
                pool.drop(sum(n for _, n in messages[i:]))
                self.busy = False
                self._mark_broken(f"write failed: {type(exc).__name__}: {exc}".strip())
                return
            pool.egress.inc(count)
            self._writes += 1
        self.busy = False
        if generation != self.generation or not self.connected:
            return
        if self._writes >= self._max_writes:
            self._recycle = True
            self._broken.set()
        else:
            pool.release(self, generation)

    async def _disconnect(self, graceful: bool, timeout: float) -> None:
        was_connected = self.connected
        self.connected = False
        call, channel = self._call, self._channel
        self._call = self._channel = None
        if was_connected:
            self._pool.streams_gauge.dec()
            self._pool.connections_gauge.dec()
        if self._write_task is not None and not self._write_task.done():
            # asyncio.wait neither raises the write's outcome nor hides our own cancellation.
            await asyncio.wait({self._write_task}, timeout=timeout if graceful else 0.05)
        if call is not None:
            if graceful:
                # Half-close and wait for the router's response: everything written arrived.
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(timeout):
                        await _finish(call)
            call.cancel()
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        if channel is not None:
            await channel.close()

    async def close(self, timeout: float) -> None:
        """Finish cleanly: wait for an in-flight write, half-close, close the channel."""
        await self._disconnect(graceful=True, timeout=timeout)


async def _finish(call: grpc.aio.StreamUnaryCall) -> None:
    await call.done_writing()
    await call


async def _ready(channel: grpc.aio.Channel, target: str) -> None:
    state = channel.get_state(try_to_connect=True)
    while state is not _READY:
        if state in _FAILED:
            raise ConnectionError(f"{target} is unreachable (connection refused, or TLS failed)")
        await channel.wait_for_state_change(state)
        state = channel.get_state(try_to_connect=True)
