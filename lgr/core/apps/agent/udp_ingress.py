"""UDP ingress: the agent's v1 dropsonde listener, a blocking receive loop in its own thread.

asyncio's datagram transport tops out near 50k datagrams/s with heavy loss; a plain blocking
``recv`` in a thread is several times faster. After each blocking receive the loop drains what
else is queued (up to a batch) without blocking, and hands the whole batch to ``handle`` so the
work per batch (diode lock, wake-up of the egress loop) is paid once. The kernel receive buffer
is enlarged so bursts wait there instead of being dropped.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable

from lgr.core.errors import UnavailableError

log = logging.getLogger("lgr.agent")

MAX_DATAGRAM = 65535
RECEIVE_BUFFER_BYTES = 8 * 1024 * 1024
DRAIN_BATCH = 100
_SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)


class UDPIngress:
    """Receive datagrams on host:port in a thread and pass them, in batches, to ``handle``.

    ``handle`` runs on the receive thread; it must not block and must not raise (an exception
    is logged and the loop goes on).
    """

    def __init__(self, host: str, port: int, handle: Callable[[list[bytes]], None]) -> None:
        self._host = host
        self._port = port
        self._handle = handle
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.port: int | None = None
        self.receive_buffer = 0

    def start(self) -> None:
        """Bind and start the receive thread; sets ``port``."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.receive_buffer = _enlarge_receive_buffer(sock)
        try:
            sock.bind((self._host, self._port))
        except OSError as exc:
            sock.close()
            raise UnavailableError(
                f"agent could not bind udp {self._host}:{self._port}: {exc.strerror}",
                hint="choose another AGENT_INCOMING_UDP_PORT, or set AGENT_DISABLE_UDP=true",
            ) from exc
        self._sock = sock
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(target=self._run, name="agent-udp", daemon=True)
        self._thread.start()
        log.info("agent udp bound to: %s:%d", self._host, self.port)

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the receive thread and close the socket (idempotent)."""
        if self._sock is None:
            return
        self._stopping = True
        # A blocked recv is not woken by close(); an empty datagram to ourselves wakes it.
        with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"", (self._host, self.port))
        if self._thread is not None:
            self._thread.join(timeout)
        self._sock.close()
        self._sock = None

    def _run(self) -> None:
        sock = self._sock
        assert sock is not None
        recv = sock.recv
        dontwait = socket.MSG_DONTWAIT
        handle = self._handle
        while not self._stopping:
            try:
                batch = [recv(MAX_DATAGRAM)]
                for _ in range(DRAIN_BATCH - 1):
                    batch.append(recv(MAX_DATAGRAM, dontwait))
            except BlockingIOError:
                pass
            except OSError as exc:
                if not self._stopping:
                    log.error("agent udp receive failed: %s", exc)
                return
            if self._stopping:
                return
            try:
                handle(batch)
            except Exception:  # noqa: BLE001 - one bad batch must not end the listener
                log.exception("agent udp: handling a batch failed")


def _enlarge_receive_buffer(sock: socket.socket) -> int:
    # SO_RCVBUFFORCE ignores net.core.rmem_max but needs CAP_NET_ADMIN; fall back to SO_RCVBUF.
    for option in (_SO_RCVBUFFORCE, socket.SO_RCVBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, RECEIVE_BUFFER_BYTES)
            break
        except OSError:
            continue
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
