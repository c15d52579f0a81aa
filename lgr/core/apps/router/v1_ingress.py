"""Router v1 ingress: upstream's ``plumbing.DopplerIngestor/Pusher``, and v2 envelopes for v1.

Pusher takes a stream of ``EnvelopeData{payload}``, one marshalled ``events.Envelope`` each, as
upstream's agents send the v1 (dropsonde) events they receive. As upstream's IngestorServer does,
each payload is parsed as a v1 envelope; one that does not parse, or lacks a required field
(origin, eventType; Go's proto.Unmarshal refuses those too), is logged and skipped, counted in
``malformed``, and the stream goes on. A good one counts once in ``ingress``, reaches v1
subscribers as the very bytes received (upstream re-marshals the parsed envelope, which for a
well-formed message from a Go agent gives the same bytes), and reaches v2 subscribers as
``ToV2(env, true)``.

``lgr.plumbing.DopplerIngestor/BatchPusher`` (an lgr extension, which lgr's agents try first) takes
the same envelopes many to a message: a stream of ``plumbing.BatchResponse``-shaped messages
(``repeated bytes payload = 1``), each payload handled as a Pusher payload; one per gRPC message
costs far more in Python than the envelope itself.

v2 envelopes (the v2 Ingress service) reach v1 subscribers as go-loggregator's ``ToV1`` of them,
each v1 envelope marshalled with Go's required-field check (one that fails is skipped and counted
in ``v1_marshal_errors``, as upstream's router drops it), by :class:`V2ToV1`; plain logs take
the shortcut of :mod:`lgr.core.conversion.logframes` (same outcome, about twice as fast).

Each direction converts only while the other plane has at least one subscription: upstream
converts every envelope, but one that no subscriber selects is discarded either way, so the
outcome for subscribers is the same and the v2 fast path stays free of v1 work (and vice versa).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sized

import grpc
from google.protobuf.message import DecodeError

from lgr.core._proto.events import envelope_pb2 as v1_envelope_pb2
from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core._proto.plumbing import doppler_pb2
from lgr.core.apps.router.v1_routing import LOG_TYPE, Item, V1Router, route_item
from lgr.core.conversion import V1MarshalError, marshal_v1, to_v1, to_v2
from lgr.core.conversion.logframes import LogFrames
from lgr.core.envelope import MalformedEnvelope, split_batch
from lgr.core.grpc_server import identity
from lgr.core.metrics import Counter

SERVICE = "plumbing.DopplerIngestor"
# lgr extension: a stream of plumbing.BatchResponse-shaped messages (repeated bytes payload = 1),
# each payload one v1 envelope; lgr's agents use it, falling back to Pusher on UNIMPLEMENTED.
BATCH_SERVICE = "lgr.plumbing.DopplerIngestor"
LOG_INTERVAL = 10.0  # seconds between log lines about bad envelopes

V2Item = tuple[bytes, str, str]  # envelope bytes, source_id, kind: the v2 PubSub's items
V1Envelope = v1_envelope_pb2.Envelope
_V1_KINDS = frozenset(("log", "counter", "gauge", "timer"))  # ToV1 makes nothing of an event

log = logging.getLogger("lgr.router")


def parse_v1(payload: bytes) -> V1Envelope | None:
    """The v1 envelope in ``payload``, or None where Go's proto.Unmarshal would fail."""
    try:
        env = V1Envelope.FromString(payload)
    except DecodeError:
        return None
    return env if env.IsInitialized() else None


class IngestorService:
    """Handler of plumbing.DopplerIngestor: v1 envelopes to ``router``, v2 forms to ``to_v2``.

    ``v2_subscribers`` (the v2 PubSub) says whether v2 forms are wanted; ``deliver_v2`` takes
    them as the v2 PubSub's ``(bytes, source_id, kind)`` items.
    """

    def __init__(self, router: V1Router, v2_subscribers: Sized,
                 deliver_v2: Callable[[list[V2Item]], None], ingress: Counter,
                 malformed: Counter) -> None:
        self._router = router
        self._v2_subscribers = v2_subscribers
        self._deliver_v2 = deliver_v2
        self._ingress = ingress
        self._malformed = malformed
        self._last_log = float("-inf")

    def handlers(self) -> list[grpc.GenericRpcHandler]:
        """The generic handlers to register on a grpc.aio server: Pusher and BatchPusher."""
        return [
            grpc.method_handlers_generic_handler(SERVICE, {
                "Pusher": grpc.stream_unary_rpc_method_handler(
                    self.Pusher, request_deserializer=identity, response_serializer=identity),
            }),
            grpc.method_handlers_generic_handler(BATCH_SERVICE, {
                "BatchPusher": grpc.stream_unary_rpc_method_handler(
                    self.BatchPusher, request_deserializer=identity,
                    response_serializer=identity),
            }),
        ]

    async def BatchPusher(  # noqa: N802
        self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
    ) -> bytes:
        """lgr's batched Pusher: each message holds many payloads; a bad one is skipped."""
        accept = self.accept_payload
        async for data in requests:
            try:
                payloads = split_batch(data)
            except MalformedEnvelope:
                self._bad("a batch that does not parse")
                continue
            for payload in payloads:
                accept(payload)
        return b""

    async def Pusher(  # noqa: N802 - the proto's method name
        self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
    ) -> bytes:
        """Take a stream of EnvelopeData; answer an empty PushResponse when it ends."""
        accept = self.accept
        async for data in requests:
            accept(data)
        return b""

    def accept(self, data: bytes) -> None:
        """Route one serialized EnvelopeData; a bad one is counted and skipped."""
        try:
            payload = doppler_pb2.EnvelopeData.FromString(data).payload
        except DecodeError:
            self._bad("an EnvelopeData that does not parse")
            return
        self.accept_payload(payload)

    def accept_payload(self, payload: bytes) -> None:
        """Route one v1 envelope's bytes; a bad one is counted and skipped."""
        env = parse_v1(payload)
        if env is None:
            self._bad("a payload that is not a valid dropsonde envelope")
            return
        self._ingress.inc(1)
        if self._router:
            self._router.publish_batch((route_item(payload, env),))
        if self._v2_subscribers:
            try:
                v2 = to_v2(env, True)
            except Exception as exc:  # noqa: BLE001 - one envelope must not end the stream
                self._bad(f"an envelope that does not convert to v2 ({exc!r})")
                return
            self._deliver_v2([(v2.SerializeToString(), v2.source_id,
                               v2.WhichOneof("message") or "")])

    def _bad(self, what: str) -> None:
        self._malformed.inc(1)
        now = time.monotonic()
        if now - self._last_log >= LOG_INTERVAL:
            self._last_log = now
            log.warning("Received bad envelope: skipped %s (%d so far)", what,
                        int(self._malformed.value))


class V2ToV1:
    """Routes v2 PubSub items to v1 subscribers as ToV1 of each envelope."""

    def __init__(self, router: V1Router, marshal_errors: Counter) -> None:
        self._router = router
        self._marshal_errors = marshal_errors
        self._logs = LogFrames()

    def publish(self, items: Iterable[V2Item]) -> None:
        """Convert and route ``items``, when any v1 subscription exists."""
        if not self._router:
            return
        out: list[Item] = []
        failed = 0
        log_frame = self._logs.frame
        parse = envelope_pb2.Envelope.FromString
        for data, _source_id, kind in items:
            if kind not in _V1_KINDS:
                continue
            try:
                env = parse(data)
            except DecodeError:
                failed += 1
                continue
            if env.HasField("log"):  # the peeked kind, checked: LogFrames needs a log
                frame = log_frame(env)
                if frame is not None:  # a LogMessage of app source_id
                    out.append((frame, env.source_id, LOG_TYPE))
                    continue
            for v1 in to_v1(env):
                try:
                    out.append(route_item(marshal_v1(v1), v1))
                except V1MarshalError:
                    failed += 1
        if failed:
            self._marshal_errors.inc(failed)
        if out:
            self._router.publish_batch(out)
