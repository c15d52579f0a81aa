"""Router pool: the agent's egress, batches from the ingress diode over BatchSender streams.

Like upstream's clientpool/v2, the agent keeps several streams (5 by default), each its own
connection to one router. Every (re)connect resolves the router addresses again (all A records
of every ROUTER_ADDR host; ROUTER_ADDR_WITH_AZ first when set) and the streams are spread over
them, so two routers each get a share. A stream that fails moves on to the next address and
reconnects with backoff; after ~100000 writes a stream is recycled onto the next address, as
upstream does, so load rebalances when routers come and go.

A dispatcher hands a batch (up to 100 envelopes, as serialized bytes joined into one
EnvelopeBatch) to whichever stream is free as soon as there is data, so latency stays low at low
rates and batches fill up by themselves at high rates. The gRPC ingress calls :meth:`kick` after
adding envelopes, which sends at once when a stream is free, a turn of the event loop before the
dispatcher task would. Free streams take turns, so every router gets a share even at low rates.
Envelopes taken for a write that fails, or taken while no stream is connected, are counted as
``dropped{direction="egress"}``. A batch too large for one gRPC message (10 MiB) goes out as
several, on the same stream (:func:`lgr.core.batching.fit`); an envelope too large for any
message is dropped and counted there too.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import random
import socket
from collections import deque
from collections.abc import Sequence

import grpc

from lgr.core.apps.agent.config import BATCH_INTERVAL, BATCH_SIZE
from lgr.core.apps.agent.router_stream import RouterStream
from lgr.core.batching import fit
from lgr.core.diode import Diode
from lgr.core.drops import DropTracker
from lgr.core.envelope import join_batch
from lgr.core.log_limit import RateLimitedLog
from lgr.core.metrics import Counter, Registry
from lgr.core.tls import MAX_MESSAGE_BYTES

log = logging.getLogger("lgr.agent")
# Every stream re-resolves on each reconnect: an unresolvable ROUTER_ADDR would log many lines a second.
_limited = RateLimitedLog(log)

Address = tuple[str, int]


class RouterPool:
    """Forwards the diode's envelopes to the routers behind ``routers`` (and ``preferred``).

    The v2 pool writes EnvelopeBatches on ``Ingress/BatchSender``; a subclass picks another
    ``method``, ``metric_version`` and streams gauge, and frames messages in :meth:`messages`
    (the v1 pool: one EnvelopeData per envelope, :mod:`.v1_egress`).
    """

    method = "/loggregator.v2.Ingress/BatchSender"
    metric_version = "2.0"
    streams_metric = ("doppler_v2_streams", "Current number of established gRPC streams to routers.")

    def __init__(
        self,
        diode: Diode[bytes],
        routers: Sequence[Address],
        credentials: grpc.ChannelCredentials,
        metrics: Registry,
        *,
        preferred: Sequence[Address] = (),
        streams: int = 5,
        max_writes: int | None = None,
        backoff: tuple[float, float] = (0.1, 1.0),
    ) -> None:
        self._diode = diode
        self._routers = list(routers)
        self._preferred = list(preferred)
        self.credentials = credentials
        self.backoff = backoff
        version = {"metric_version": self.metric_version}
        self.egress: Counter = metrics.counter(
            "egress", "Total number of envelopes successfully egressed.", version
        )
        self.dropped: Counter = metrics.counter(
            "dropped", "Total number of dropped envelopes.", {"direction": "egress", **version},
        )
        self.streams_gauge = metrics.gauge(*self.streams_metric, {"metric_version": "2.0"})
        try:  # one gauge for the v1 and the v2 pool's connections, as upstream's
            self.connections_gauge = metrics.get("doppler_connections", metric_version="2.0")
        except KeyError:
            self.connections_gauge = metrics.gauge(
                "doppler_connections", "Current number of gRPC connections to routers.",
                {"metric_version": "2.0"},
            )
        self._drops = DropTracker("agent egress to routers", [self.dropped])
        self._too_large = DropTracker(
            f"agent egress: envelopes too large for one gRPC message ({MAX_MESSAGE_BYTES} bytes)",
            [self.dropped])
        self._streams = [
            RouterStream(self, i, max_writes if max_writes is not None else 100000 + random.randrange(1000))
            for i in range(streams)
        ]
        self._free: deque[tuple[RouterStream, int]] = deque()
        self._freed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def connected(self) -> int:
        """How many streams are connected right now."""
        return sum(1 for s in self._streams if s.connected)

    def connected_to(self) -> list[Address]:
        """The router address of each connected stream."""
        return [s.address for s in self._streams if s.connected and s.address is not None]

    async def start(self) -> None:
        """Start every stream's connect loop and the dispatcher (returns at once)."""
        for stream in self._streams:
            self._tasks.append(asyncio.ensure_future(stream.run()))
        self._tasks.append(asyncio.ensure_future(self._dispatch()))

    async def stop(self, grace: float) -> None:
        """Send what is buffered (within ``grace`` seconds), then close every stream."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while (len(self._diode) or any(s.busy for s in self._streams)) and self.connected:
            if loop.time() >= deadline:
                break
            await asyncio.sleep(0.01)
        for task in self._tasks:
            task.cancel()
        await asyncio.wait(self._tasks, timeout=1.0)
        self.drop(len(self._diode.take(self._diode.size)))  # not sent within the grace period
        closing = [asyncio.ensure_future(s.close(max(0.1, deadline - loop.time())))
                   for s in self._streams]
        _, stuck = await asyncio.wait(closing, timeout=max(0.1, deadline - loop.time()) + 1.0)
        for task in stuck:
            task.cancel()

    # --- addresses -------------------------------------------------------------------------

    async def candidates(self) -> tuple[list[Address], list[Address]]:
        """(preferred, all) resolved addresses; preferred is the AZ list, else all."""
        preferred = await _resolve_all(self._preferred)
        others = await _resolve_all(self._routers)
        everything = preferred + [a for a in others if a not in preferred]
        return (preferred or everything), everything

    # --- free streams ----------------------------------------------------------------------

    def release(self, stream: RouterStream, generation: int) -> None:
        """Mark ``stream`` (connection ``generation``) idle and ready for a batch."""
        self._free.append((stream, generation))
        self._freed.set()

    def _take_free(self) -> RouterStream | None:
        free = self._free
        while free:
            stream, generation = free.popleft()
            if stream.connected and stream.generation == generation and not stream.busy:
                return stream
        self._freed.clear()
        return None

    async def _acquire(self, timeout: float) -> RouterStream | None:
        stream = self._take_free()
        if stream is not None:
            return stream
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while stream is None:
                    await self._freed.wait()
                    stream = self._take_free()
        return stream

    # --- dispatch --------------------------------------------------------------------------

    def kick(self) -> None:
        """Send a batch now if the diode holds envelopes and a stream is free (never waits)."""
        diode = self._diode
        if not len(diode):
            return
        stream = self._take_free()
        if stream is None:
            return  # the dispatcher sends once a stream is freed
        self._send(stream, diode.take(BATCH_SIZE))

    async def _dispatch(self) -> None:
        diode = self._diode
        while True:
            if not await diode.wait():
                continue
            stream = await self._acquire(BATCH_INTERVAL)
            if stream is None:
                if not self.connected:
                    # Upstream's batcher fails each write at once when no router is connected.
                    self.drop(len(diode.take(diode.size)))
                continue
            self._send(stream, diode.take(BATCH_SIZE))

    def method_for(self, address: Address) -> str:
        """The method a stream to ``address`` opens."""
        return self.method

    def unimplemented(self, address: Address, call: object) -> None:
        """The router at ``address`` answered UNIMPLEMENTED to a stream's method."""

    def _send(self, stream: RouterStream, items: list[bytes]) -> None:
        """Hand ``items`` to ``stream`` in as many messages as :meth:`messages` makes."""
        messages, too_large = self.messages(items, stream.method)
        if too_large:
            self._too_large(too_large)
        if messages:
            stream.send(messages)
        else:
            self.release(stream, stream.generation)

    def messages(self, items: list[bytes], method: str) -> tuple[list[tuple[bytes, int]], int]:
        """``(messages, too_large)``: ``(bytes, envelope count)`` per message to write, in as
        many EnvelopeBatches as the message limit needs, and how many envelopes fit in none."""
        runs, too_large = fit(items)
        return [(join_batch(run), len(run)) for run in runs], len(too_large)

    def drop(self, n: int) -> None:
        """Count ``n`` envelopes lost on the way to the routers."""
        if n:
            self._drops(n)


async def _resolve_all(addrs: Sequence[Address]) -> list[Address]:
    out: list[Address] = []
    for host, port in addrs:
        for addr in await _resolve(host, port):
            if addr not in out:
                out.append(addr)
    return out


async def _resolve(host: str, port: int) -> list[Address]:
    """Every IPv4 address of ``host`` (A records); an IP literal is returned as it is."""
    try:
        ipaddress.ip_address(host)
        return [(host, port)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    for family in (socket.AF_INET, socket.AF_UNSPEC):
        try:
            infos = await loop.getaddrinfo(host, port, family=family, type=socket.SOCK_STREAM)
        except OSError as exc:
            _limited.warning(("resolve", host), "agent: cannot resolve router %s: %s", host, exc)
            return []
        addrs = sorted({(info[4][0], port) for info in infos})
        if addrs:
            return addrs
    return []
