"""gRPC ingress: the agent's loggregator.v2.Ingress service (Sender, BatchSender, Send).

Each received envelope is tagged (see :mod:`tagging`) and its bytes go into the ingress diode;
a batch that tagging would leave as it is goes in as the bytes that came (:mod:`passthrough`).
The handler never waits for the routers, but calls ``on_queued`` (the router pool's kick) so a
free stream sends at once. A message that does not parse (anything upb's full parse refuses,
invalid UTF-8 in any string field included, as Go's unmarshal upstream) ends its call with
INVALID_ARGUMENT naming the envelope and field, and its envelopes are counted in
``malformed{metric_version="2.0"}``; one over 10 MiB is refused by gRPC with RESOURCE_EXHAUSTED. Counts
``ingress{metric_version="2.0"}`` per envelope received, as upstream's receiver does (log
envelopes dropped by LOGS_DISABLED included).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import grpc
from google.protobuf.message import DecodeError

from lgr.core._proto.loggregator.v2 import envelope_pb2, ingress_pb2
from lgr.core.apps.agent.passthrough import PassThrough
from lgr.core.apps.agent.tagging import Tagger, serialize_all
from lgr.core.diode import Diode
from lgr.core.envelope import MalformedEnvelope, peek, peek_batch
from lgr.core.grpc_server import identity
from lgr.core.metrics import Counter
from lgr.core.salvage import envelope_count

SERVICE = "loggregator.v2.Ingress"


class IngressService:
    """Handlers for the Ingress service that feed ``diode`` through ``tagger``."""

    def __init__(self, tagger: Tagger, diode: Diode[bytes], ingress: Counter,
                 passthrough: PassThrough | None = None,
                 on_queued: Callable[[], None] | None = None,
                 malformed: Counter | None = None) -> None:
        self._tagger = tagger
        self._malformed = malformed
        self._diode = diode
        self._ingress = ingress
        self._passthrough = passthrough
        self._on_queued = on_queued or _nothing

    def _accept(self, envelopes: list[envelope_pb2.Envelope]) -> None:
        self._diode.put_many(serialize_all(self._tagger, envelopes))
        self._ingress.inc(len(envelopes))
        self._on_queued()

    async def _accept_batch(self, data: bytes, context: grpc.aio.ServicerContext) -> None:
        try:
            batch = envelope_pb2.EnvelopeBatch.FromString(data)  # checks it all
        except DecodeError:
            await self._refuse(peek_batch, data, envelope_count(data), context)
        envelopes = self._passthrough.envelopes(data) if self._passthrough is not None else None
        if envelopes is None:
            self._accept(list(batch.batch))
        elif envelopes:
            self._diode.put_many(envelopes)
            self._ingress.inc(len(envelopes))
            self._on_queued()

    async def Sender(
        self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
    ) -> ingress_pb2.IngressResponse:
        """A stream of single envelopes (go-loggregator's default v2 client)."""
        async for data in requests:
            try:
                env = envelope_pb2.Envelope.FromString(data)
            except DecodeError:
                await self._refuse(peek, data, 1, context)
            self._accept([env])
        return ingress_pb2.IngressResponse()

    async def BatchSender(
        self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
    ) -> ingress_pb2.BatchSenderResponse:
        """A stream of envelope batches: the fast path."""
        async for data in requests:
            await self._accept_batch(data, context)
        return ingress_pb2.BatchSenderResponse()

    async def Send(self, data: bytes, context: grpc.aio.ServicerContext) -> ingress_pb2.SendResponse:
        """One batch per call (kept for clients that use it; slow by nature)."""
        await self._accept_batch(data, context)
        return ingress_pb2.SendResponse()

    def handler(self) -> grpc.GenericRpcHandler:
        """The generic handler to add to a grpc.aio server.

        Requests arrive as bytes and are parsed in the handler, so a malformed message ends its
        call with INVALID_ARGUMENT (gRPC's own deserializer would answer INTERNAL).
        """
        return grpc.method_handlers_generic_handler(SERVICE, {
            "Sender": grpc.stream_unary_rpc_method_handler(
                self.Sender, request_deserializer=identity,
                response_serializer=ingress_pb2.IngressResponse.SerializeToString,
            ),
            "BatchSender": grpc.stream_unary_rpc_method_handler(
                self.BatchSender, request_deserializer=identity,
                response_serializer=ingress_pb2.BatchSenderResponse.SerializeToString,
            ),
            "Send": grpc.unary_unary_rpc_method_handler(
                self.Send, request_deserializer=identity,
                response_serializer=ingress_pb2.SendResponse.SerializeToString,
            ),
        })


    async def _refuse(self, describe: Callable[[bytes], object], data: bytes, envelopes: int,
                      context: grpc.aio.ServicerContext) -> None:
        if self._malformed is not None:
            self._malformed.inc(envelopes)
        try:
            describe(data)  # raises MalformedEnvelope naming the problem
            reason = "malformed message"
        except MalformedEnvelope as exc:
            reason = str(exc)
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, reason)


def _nothing() -> None:
    pass
