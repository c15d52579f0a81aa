"""Test-only Ingress and Egress servers over real mTLS gRPC on 127.0.0.1, for client tests.

``ingress_server`` records every envelope a BatchSender stream brings and can break a stream;
``egress_server`` answers BatchedReceiver with scripted batches, one script per stream, and can
end a stream with a status. ``ServerThread`` runs either in a background event loop so that a
test can drive a real `lgr` subprocess against it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc

from lgr.core import tls
from lgr.core._proto.loggregator.v2 import egress_pb2, envelope_pb2, ingress_pb2
from lgr.core.grpc_server import start_server


class FakeIngress:
    """Ingress.BatchSender that keeps every envelope; ``break_after`` aborts the next stream
    with UNAVAILABLE once it has read that many batches."""

    def __init__(self) -> None:
        self.envelopes: list[envelope_pb2.Envelope] = []
        self.batch_sizes: list[int] = []
        self.streams = 0
        self.break_after: int | None = None

    async def BatchSender(self, request_iterator, context):
        self.streams += 1
        read = 0
        async for batch in request_iterator:
            self.envelopes.extend(batch.batch)
            self.batch_sizes.append(len(batch.batch))
            read += 1
            if self.break_after is not None and read >= self.break_after:
                self.break_after = None
                await context.abort(grpc.StatusCode.UNAVAILABLE, "fake agent going away")
        return ingress_pb2.BatchSenderResponse()

    def handler(self) -> grpc.GenericRpcHandler:
        return grpc.method_handlers_generic_handler("loggregator.v2.Ingress", {
            "BatchSender": grpc.stream_unary_rpc_method_handler(
                self.BatchSender,
                request_deserializer=envelope_pb2.EnvelopeBatch.FromString,
                response_serializer=ingress_pb2.BatchSenderResponse.SerializeToString,
            ),
        })


# One item of an egress script: a batch to send (or its raw bytes, sent as they are, for bytes no
# protobuf library would serialize), or (code, details) to end the stream with.
Item = list[envelope_pb2.Envelope] | bytes | tuple[grpc.StatusCode, str]


class FakeEgress:
    """Egress.BatchedReceiver: stream number i plays ``scripts[i]`` then stays open (the last
    script repeats for later streams). Every request is kept in ``requests``."""

    def __init__(self, scripts: list[list[Item]] | None = None) -> None:
        self.scripts = scripts or [[]]
        self.requests: list[egress_pb2.EgressBatchRequest] = []
        self.metadata: list[dict[str, str]] = []

    async def BatchedReceiver(self, request, context):
        index = len(self.requests)
        self.requests.append(request)
        self.metadata.append({k: v for k, v in context.invocation_metadata() or ()})
        for item in self.scripts[min(index, len(self.scripts) - 1)]:
            if isinstance(item, tuple):
                await context.abort(item[0], item[1])
            yield item if isinstance(item, bytes) else envelope_pb2.EnvelopeBatch(batch=item)
        await asyncio.Event().wait()  # stay open until the client goes away

    def handler(self) -> grpc.GenericRpcHandler:
        return grpc.method_handlers_generic_handler("loggregator.v2.Egress", {
            "BatchedReceiver": grpc.unary_stream_rpc_method_handler(
                self.BatchedReceiver,
                request_deserializer=egress_pb2.EgressBatchRequest.FromString,
                response_serializer=_batch_bytes,
            ),
        })


def _batch_bytes(batch: envelope_pb2.EnvelopeBatch | bytes) -> bytes:
    return batch if isinstance(batch, bytes) else batch.SerializeToString()


@contextlib.asynccontextmanager
async def serve(servicer: Any, pki: Any, cert: str, port: int = 0) -> AsyncIterator[int]:
    """Serve ``servicer`` over mTLS with ``cert``'s files; yield the bound port."""
    creds = tls.server_credentials(*pki.files(cert))
    server, bound = await start_server([servicer.handler()], "127.0.0.1", port, creds, f"fake-{cert}")
    try:
        yield bound
    finally:
        await server.stop(None)


class ServerThread:
    """Run ``serve(servicer, ...)`` in its own event loop thread; ``port`` is known on entry."""

    def __init__(self, servicer: Any, pki: Any, cert: str) -> None:
        self.servicer = servicer
        self._pki, self._cert = pki, cert
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self.port = 0
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with serve(self.servicer, self._pki, self._cert) as port:
            self.port = port
            self._ready.set()
            await self._stop.wait()
        # RPC tasks the stopped server left behind would be reported as destroyed while pending.
        leftovers = asyncio.all_tasks() - {asyncio.current_task()}
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)

    def call(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` in the server's loop (to change the servicer safely)."""
        self._loop.call_soon_threadsafe(fn)

    def __enter__(self) -> ServerThread:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake server did not start")
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        self._loop.close()
