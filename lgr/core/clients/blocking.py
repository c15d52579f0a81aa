"""BlockingIngressClient: a thread-safe, blocking facade over IngressClient for synchronous code."""

from __future__ import annotations

import asyncio
import threading

import grpc

from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.clients.ingress import IngressClient, IngressStats


class BlockingIngressClient:
    """A thread-safe, blocking facade over IngressClient, running its own event loop thread."""

    def __init__(self, address: str, credentials: grpc.ChannelCredentials, **kwargs) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="lgr-ingress", daemon=True)
        self._thread.start()
        self.client: IngressClient = self._call(self._make(address, credentials, kwargs))

    @staticmethod
    async def _make(address: str, credentials: grpc.ChannelCredentials, kwargs: dict) -> IngressClient:
        client = IngressClient(address, credentials, **kwargs)
        await client.start()
        return client

    def _call(self, coro, timeout: float | None = None):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    @property
    def stats(self) -> IngressStats:
        return self.client.stats

    def connect(self, timeout: float = 5.0) -> None:
        """See :meth:`IngressClient.connect`."""
        self._call(self.client.connect(timeout))

    def emit(self, env: envelope_pb2.Envelope | bytes) -> None:
        """Queue one envelope from any thread without blocking."""
        data = env if isinstance(env, bytes) else env.SerializeToString()
        self._loop.call_soon_threadsafe(self.client.emit, data)

    def flush(self, timeout: float | None = None) -> bool:
        """Block until everything queued so far is written or failed."""
        async def flush() -> bool:
            return await self.client.flush(timeout)
        return self._call(flush())

    def close(self, timeout: float = 5.0) -> None:
        """Flush, end the stream, stop the loop thread."""
        try:
            self._call(self.client.close(timeout))
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
            self._loop.close()
