"""Router ingress: the v2 Ingress service, writing agents' envelopes into the ingress diode.

Envelopes stay serialized. A batch is read once with ``envelope.peek_batch`` for the source_id
and kind that routing needs; the diode holds ``(bytes, source_id, kind)`` triples, the form
``PubSub.publish_batch`` takes. Handlers never wait on subscribers: a full diode drops its oldest
envelopes (counted as ``dropped{direction="ingress"}``). When the diode is empty (the publisher
has caught up) and the batch fits in it, the handler publishes the batch itself (``publish_now``)
instead of waking the publisher task: the same order and outcome, one turn of the event loop
sooner.

BatchSender and Sender are upstream's; Send (unary) is served too, although upstream's router
answers it with UNIMPLEMENTED. A message that is not a valid Envelope(Batch) (anything a full
protobuf parse refuses, invalid UTF-8 in any string field included: ``envelope.peek_batch``) ends
that stream with INVALID_ARGUMENT naming the envelope and field; its envelopes, the good ones
with it, are counted in ``malformed`` and dropped, as upstream's gRPC unmarshal refuses the whole
message (with INTERNAL). Other streams are unaffected.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import grpc

from lgr.core.diode import Diode
from lgr.core.envelope import MalformedEnvelope, peek, peek_batch
from lgr.core.grpc_server import identity
from lgr.core.metrics import Counter
from lgr.core.salvage import envelope_count

SERVICE = "loggregator.v2.Ingress"

Item = tuple[bytes, str, str]


class IngressService:
    """Handlers of loggregator.v2.Ingress feeding ``diode``; ``ingress`` counts envelopes in."""

    def __init__(self, diode: Diode[Item], ingress: Counter,
                 publish_now: Callable[[list[Item]], None] | None = None,
                 malformed: Counter | None = None) -> None:
        self._diode = diode
        self._ingress = ingress
        self._malformed = malformed
        self._publish_now = publish_now

    def _deliver(self, items: list[Item]) -> None:
        diode = self._diode
        if self._publish_now is not None and not len(diode) and len(items) <= diode.size:
            self._publish_now(items)
        else:
            diode.put_many(items)

    def handler(self) -> grpc.GenericRpcHandler:
        """The generic handler to register on a grpc.aio server."""
        return grpc.method_handlers_generic_handler(SERVICE, {
            "BatchSender": grpc.stream_unary_rpc_method_handler(
                self.BatchSender, request_deserializer=identity, response_serializer=identity),
            "Sender": grpc.stream_unary_rpc_method_handler(
                self.Sender, request_deserializer=identity, response_serializer=identity),
            "Send": grpc.unary_unary_rpc_method_handler(
                self.Send, request_deserializer=identity, response_serializer=identity),
        })

    async def BatchSender(  # noqa: N802 - the proto's method name
        self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
    ) -> bytes:
        """Take a stream of EnvelopeBatch; answer an empty IngressResponse when it ends."""
        async for batch in requests:
            await self._accept_batch(batch, context)
        return b""

    async def Sender(  # noqa: N802
        self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
    ) -> bytes:
        """Take a stream of single Envelopes; answer an empty IngressResponse when it ends."""
        deliver, count = self._deliver, self._ingress.inc
        async for data in requests:
            try:
                source_id, kind = peek(data)
            except MalformedEnvelope as exc:
                await self._refuse(1, exc, context)
            count(1)
            deliver([(data, source_id, kind)])
        return b""

    async def Send(self, batch: bytes, context: grpc.aio.ServicerContext) -> bytes:  # noqa: N802
        """Take one EnvelopeBatch (unary); answer an empty SendResponse."""
        await self._accept_batch(batch, context)
        return b""

    async def _accept_batch(self, batch: bytes, context: grpc.aio.ServicerContext) -> None:
        try:
            items = peek_batch(batch)
        except MalformedEnvelope as exc:
            await self._refuse(envelope_count(batch), exc, context)
        if items:
            self._ingress.inc(len(items))
            self._deliver(items)

    async def _refuse(self, envelopes: int, exc: MalformedEnvelope,
                      context: grpc.aio.ServicerContext) -> None:
        if self._malformed is not None:
            self._malformed.inc(envelopes)
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
