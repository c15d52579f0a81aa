"""Websocket session: one consumer's frames, keep-alive pings and slow-consumer cut, as upstream.

Frames wait in the session's drop-oldest buffer (LGR_TC_BUFFER_SIZE, drops counted as
``dropped{direction=egress}``) and are written as binary messages, one v1 envelope each.
Four tasks run per session, and the first to finish decides how it ends:

* reader: reads (and discards) what the client sends, answers its pings, notes its pongs; the
  client closing or going away ends the session;
* keep-alive (upstream's KeepAlive): ping, wait up to LGR_TC_KEEPALIVE for a pong, then ping again
  after half that; no pong in time closes the websocket with 1008 "Client did not respond to ping
  before keep-alive timeout expired.";
* writer: sends buffered frames as they come;
* watchdog: a frame whose write has not completed after LGR_TC_SLOW_CONSUMER_TIMEOUT (the
  client stopped reading and every buffer on the way is full) marks a slow consumer: the
  connection is dropped at once (no close handshake can get through a full buffer), counted in
  ``slow_consumer``, logged, and reported with upstream's event ("Traffic Controller has
  disconnected slow consumer"). Other sessions never wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from aiohttp import WSMsgType, web

from lgr.core.diode import Diode
from lgr.core.drops import DropTracker
from lgr.core.metrics import Counter

WRITE_BATCH = 100  # frames taken from the buffer per turn
IDLE_CHECK = 0.5  # seconds the writer sleeps without frames before looking again
CLOSE_TIMEOUT = 2.0  # seconds to wait for the client's close reply
KEEPALIVE_EXPIRED = "Client did not respond to ping before keep-alive timeout expired."
SLOW_CONSUMER_TITLE = "Traffic Controller has disconnected slow consumer"
SLOW_CONSUMER_BODY = """Remote Address: {remote}
X-Forwarded-For: {forwarded}
Path: {path}

When Loggregator detects a slow connection, that connection is disconnected to prevent back \
pressure on the system. This may be due to improperly scaled nozzles, or slow user connections \
to Loggregator"""

log = logging.getLogger("lgr.tc")

# How a session ended.
CLIENT_LEFT, EXPIRED, SLOW, BROKEN, SHUTDOWN = "client", "expired", "slow", "broken", "shutdown"


def describe_peer(request: web.BaseRequest) -> tuple[str, str, str]:
    """(remote address, X-Forwarded-For, path with query) of ``request``, for logs and events."""
    peer = request.transport.get_extra_info("peername") if request.transport else None
    remote = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else str(
        request.remote or "")
    forwarded = ", ".join(request.headers.getall("X-Forwarded-For", []))
    return remote, forwarded, request.path_qs


class WebsocketSession:
    """Serves one prepared websocket until the client leaves, stalls or stops answering pings."""

    def __init__(self, request: web.BaseRequest, ws: web.WebSocketResponse, *,
                 buffer_size: int, keepalive: float, slow_timeout: float, egress: Counter,
                 dropped: Counter, expired: Counter, on_slow: Callable[[str, str], None]) -> None:
        self.request = request
        self.ws = ws
        remote, _, path = describe_peer(request)
        self.diode: Diode[bytes] = Diode(
            buffer_size, on_drop=DropTracker(f"websocket {path} from {remote}", [dropped]))
        self._keepalive = keepalive
        self._slow_timeout = slow_timeout
        self._egress = egress
        self._expired = expired
        self._on_slow = on_slow
        self._pong = asyncio.Event()
        self._stop = asyncio.Event()
        self._sending_since: float | None = None
        self.outcome: str | None = None

    def push(self, frames: list[bytes]) -> None:
        """Queue frames for the client (never blocks; a full buffer drops its oldest)."""
        if frames:
            self.diode.put_many(frames)

    def shutdown(self) -> None:
        """Close the session with 1001 (going away): the controller is stopping."""
        self._stop.set()

    async def run(self) -> str:
        """Serve until the session ends; returns how it ended (CLIENT_LEFT, EXPIRED, ...)."""
        tasks = {
            asyncio.ensure_future(self._read()): CLIENT_LEFT,
            asyncio.ensure_future(self._ping()): EXPIRED,
            asyncio.ensure_future(self._write()): BROKEN,
            asyncio.ensure_future(self._watch()): SLOW,
            asyncio.ensure_future(self._stop.wait()): SHUTDOWN,
        }
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        outcome = next(tasks[t] for t in tasks if t in done)
        self.outcome = outcome
        await self._finish(outcome)
        return outcome

    async def _finish(self, outcome: str) -> None:
        if outcome == SLOW:
            remote, forwarded, path = describe_peer(self.request)
            log.warning("Doppler Proxy: Slow Consumer from %s using %s", remote, path)
            self._on_slow(SLOW_CONSUMER_TITLE, SLOW_CONSUMER_BODY.format(
                remote=remote, forwarded=forwarded, path=path))
            self._abort()
        elif outcome == EXPIRED:
            self._expired.inc()
            await self._close(1008, KEEPALIVE_EXPIRED)
        elif outcome == SHUTDOWN:
            await self._close(1001, "")
        elif outcome == BROKEN:
            self._abort()
        elif not self.ws.closed:
            await self._close(1000, "")

    async def _close(self, code: int, message: str) -> None:
        try:
            await asyncio.wait_for(self.ws.close(code=code, message=message.encode()),
                                   CLOSE_TIMEOUT)
        except (asyncio.TimeoutError, ConnectionError, RuntimeError):
            self._abort()

    def _abort(self) -> None:
        transport = self.request.transport
        if transport is not None:
            transport.abort()

    async def _read(self) -> None:
        ws = self.ws
        while True:
            msg = await ws.receive()
            kind = msg.type
            if kind is WSMsgType.PONG:
                self._pong.set()
            elif kind is WSMsgType.PING:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.pong(msg.data)
            elif kind in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED,
                          WSMsgType.ERROR):
                return

    async def _ping(self) -> None:
        ws = self.ws
        while True:
            self._pong.clear()
            try:
                await ws.ping()
            except (ConnectionError, RuntimeError):
                return
            try:
                await asyncio.wait_for(self._pong.wait(), self._keepalive)
            except asyncio.TimeoutError:
                return
            await asyncio.sleep(self._keepalive / 2)

    async def _write(self) -> None:
        diode, send, egress = self.diode, self.ws.send_bytes, self._egress
        clock = asyncio.get_running_loop().time
        while True:
            frames = diode.take(WRITE_BATCH)
            if not frames:
                await diode.wait(IDLE_CHECK)
                continue
            try:
                for frame in frames:
                    self._sending_since = clock()
                    await send(frame)
            except (ConnectionError, RuntimeError):
                return
            self._sending_since = None
            egress.inc(len(frames))

    async def _watch(self) -> None:
        clock = asyncio.get_running_loop().time
        period = min(self._slow_timeout / 4, 0.5)
        while True:
            await asyncio.sleep(period)
            since = self._sending_since
            if since is not None and clock() - since >= self._slow_timeout:
                return
