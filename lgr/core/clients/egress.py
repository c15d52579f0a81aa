"""EgressClient: reads envelopes from a reverse log proxy's BatchedReceiver over mTLS, reconnecting.

:func:`egress_request` builds the EgressBatchRequest from simple arguments. The client yields
batches (or single envelopes) for as long as the caller iterates. When the stream ends — the rlp
restarted (UNAVAILABLE), closed it, or refused it for now (RESOURCE_EXHAUSTED) — it reopens it with
backoff, and tells the caller through ``on_event``: :class:`StreamInterrupted` when it breaks,
:class:`StreamResumed` when the channel to the rlp is up again. Envelopes sent during the outage
are lost: nothing on the wire replays them.

With ``drop_reports`` (the default) the client opts in to lgr's drop reports (lgr.core.drops):
an lgr rlp then tells this stream when it had to drop envelopes for it, and the client turns each
report into an :class:`EnvelopesDropped` event instead of yielding it. An upstream rlp ignores the
request metadata and sends no reports.

Envelopes that do not parse are skipped, the rest of their batch kept (lgr.core.salvage), and
reported as :class:`~lgr.core.salvage.EnvelopesMalformed` events (``malformed`` counts them).

Errors that retrying cannot fix end the iteration with a typed error: a request the rlp rejects
(INVALID_ARGUMENT), a server that is not an rlp (UNIMPLEMENTED), a refused certificate, or no
connection at all within ``connect_timeout`` of the start.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass

import grpc

from lgr.core import drops, tls
from lgr.core.aio import cancel_and_wait
from lgr.core._proto.loggregator.v2 import egress_pb2, envelope_pb2
from lgr.core.clients.channel import connection_hint, is_handshake_failure, secure_channel
from lgr.core.clients.defaults import TLS_ENV, RlpClientConfig
from lgr.core.clients.kinds import selected_kinds
from lgr.core.clients.reconnect import Interruption, Outage, StreamResumed
from lgr.core.errors import InvalidSelectorError, TLSConfigError, UnavailableError
from lgr.core.grpc_server import identity
from lgr.core.salvage import EnvelopesMalformed, describe_malformed, parse_batch

BATCHED_RECEIVER = "/loggregator.v2.Egress/BatchedReceiver"
_RLP_FLAG = "--rlp-addr / LGR_RLP_ADDR"


@dataclass(frozen=True)
class StreamInterrupted(Interruption):
    """The stream broke (``code``: a gRPC status name, or OK when the rlp ended it); the client
    retries in ``retry_in`` seconds, attempt number ``attempt`` of this outage."""

    code: str
    details: str
    attempt: int
    retry_in: float

    @property
    def reason(self) -> str:
        return f"{self.code}: {self.details}"


@dataclass(frozen=True)
class EnvelopesDropped:
    """The rlp dropped ``delta`` envelopes of this stream (``total`` since the stream opened)."""

    delta: int
    total: int


StreamEvent = StreamInterrupted | StreamResumed | EnvelopesDropped | EnvelopesMalformed


def egress_request(
    source_ids: Iterable[str] = (),
    kinds: Iterable[str] = (),
    *,
    counter_name: str = "",
    gauge_names: Iterable[str] = (),
    shard_id: str = "",
    deterministic_name: str = "",
    use_preferred_tags: bool = True,
) -> egress_pb2.EgressBatchRequest:
    """An EgressBatchRequest with one selector per (source id, kind).

    No source ids means the firehose (selectors with an empty source_id). No kinds means the
    kinds the name filters imply (counter for ``counter_name``, gauge for ``gauge_names``), else
    all five. ``counter_name`` and ``gauge_names`` narrow the counter and gauge selectors.
    """
    gauge_names = list(gauge_names)
    kinds = selected_kinds(kinds, counter_name, gauge_names)
    selectors = []
    for source_id in list(dict.fromkeys(source_ids)) or [""]:
        for kind in kinds:
            selector = egress_pb2.Selector(source_id=source_id)
            if kind == "counter":
                selector.counter.name = counter_name
            elif kind == "gauge":
                selector.gauge.names.extend(gauge_names)
                selector.gauge.SetInParent()
            else:
                getattr(selector, kind).SetInParent()
            selectors.append(selector)
    return egress_pb2.EgressBatchRequest(
        shard_id=shard_id,
        deterministic_name=deterministic_name,
        use_preferred_tags=use_preferred_tags,
        selectors=selectors,
    )


class EgressClient:
    """Stream envelopes matching ``request`` from the rlp at ``address``; see the module doc."""

    def __init__(
        self,
        address: str,
        credentials: grpc.ChannelCredentials,
        request: egress_pb2.EgressBatchRequest,
        *,
        server_name: str = tls.RLP_SERVER_NAME,
        on_event: Callable[[StreamEvent], None] | None = None,
        connect_timeout: float = 5.0,
        backoff: tuple[float, float] = (0.05, 2.0),
        drop_reports: bool = True,
    ) -> None:
        self.address = address
        self.request = request
        self.received = 0
        self.reconnects = 0
        self.dropped = 0  # as the rlp last reported for the current stream
        self.malformed = 0  # envelopes skipped because they do not parse
        self._credentials = credentials
        self._server_name = server_name
        self._on_event = on_event or (lambda event: None)
        self._connect_timeout = connect_timeout
        self._backoff = backoff
        self._metadata = drops.REPORT_METADATA if drop_reports else None

    @classmethod
    def from_config(cls, config: RlpClientConfig, request: egress_pb2.EgressBatchRequest, **kwargs) -> EgressClient:
        """A client for ``config.rlp_addr`` with its mTLS files (checked now)."""
        creds = tls.client_credentials(config.ca_file, config.cert_file, config.key_file, env=TLS_ENV)
        return cls(config.rlp_addr, creds, request, **kwargs)

    async def envelopes(self) -> AsyncIterator[envelope_pb2.Envelope]:
        """Yield envelopes one at a time (see :meth:`batches`)."""
        async for batch in self.batches():
            for env in batch:
                yield env

    async def batches(self) -> AsyncIterator[list[envelope_pb2.Envelope]]:
        """Yield each batch the rlp sends, reconnecting until the caller stops iterating."""
        channel = secure_channel(self.address, self._credentials, self._server_name)
        receive = channel.unary_stream(
            BATCHED_RECEIVER,
            request_serializer=egress_pb2.EgressBatchRequest.SerializeToString,
            response_deserializer=identity,  # parsed below, so one bad envelope costs only itself
        )
        started = time.monotonic()
        state = Outage()
        try:
            while True:
                # Fail fast while the rlp is down, so each attempt reports why it failed.
                call = receive(self.request, wait_for_ready=False, metadata=self._metadata)
                watcher = asyncio.ensure_future(self._watch_ready(channel, state))
                try:
                    async for data in call:
                        batch = parse_batch(data)
                        if batch.malformed:
                            self.malformed += batch.malformed
                            self._on_event(EnvelopesMalformed(batch.malformed, self.malformed))
                        envs = self._without_reports(batch.batch) if self._metadata else batch.batch
                        if envs:
                            self.received += len(envs)
                            yield envs
                    code, details = "OK", "the rlp ended the stream"
                except grpc.aio.AioRpcError as exc:
                    self._raise_if_fatal(exc)
                    code, details = exc.code().name, exc.details() or ""
                finally:
                    call.cancel()
                    await cancel_and_wait(watcher)
                if not state.connected_once and (
                    time.monotonic() - started > self._connect_timeout or is_handshake_failure(details)
                ):
                    reason = f"{code}: {details}"
                    raise UnavailableError(
                        f"cannot reach the reverse log proxy at {self.address}: {reason}",
                        hint=connection_hint(reason, "rlp", _RLP_FLAG),
                    )
                delay = state.begin(self._backoff)
                if state.connected_once:  # before that, failures are "not connected yet"
                    self.reconnects += 1
                    self._on_event(StreamInterrupted(code, details, state.attempts, delay))
                await asyncio.sleep(delay)
        finally:
            await channel.close()

    def _without_reports(self, batch: Iterable[envelope_pb2.Envelope]) -> list[envelope_pb2.Envelope]:
        kept = []
        for env in batch:
            if drops.is_report(env):
                self.dropped = env.counter.total
                self._on_event(EnvelopesDropped(env.counter.delta, env.counter.total))
            else:
                kept.append(env)
        return kept

    async def _watch_ready(self, channel: grpc.aio.Channel, state: Outage) -> None:
        await channel.channel_ready()
        outage = state.end()
        if outage is not None:
            self._on_event(StreamResumed(outage))

    def _raise_if_fatal(self, exc: grpc.aio.AioRpcError) -> None:
        code, details = exc.code(), exc.details() or ""
        if code == grpc.StatusCode.INVALID_ARGUMENT:
            raise InvalidSelectorError(
                f"the reverse log proxy rejected the request: {details}",
                hint="check --app, --type, --counter-name and --gauge-name",
            ) from None
        if code == grpc.StatusCode.UNIMPLEMENTED:
            raise UnavailableError(
                f"{self.address} does not serve loggregator.v2.Egress/BatchedReceiver: {details}",
                hint=f"is that a reverse log proxy? set {_RLP_FLAG}",
            ) from None
        if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
            raise TLSConfigError(
                f"the reverse log proxy refused this client: {code.name}: {details}",
                hint="use a client certificate signed by the rlp's CA (LGR_CERT_FILE, LGR_KEY_FILE)",
            ) from None


def describe_event(event: StreamEvent, address: str) -> str:
    """A one-line status for a stream event, for a CLI's status line."""
    if isinstance(event, StreamInterrupted):
        return (f"stream from the rlp at {address} broke ({event.code}: {event.details}); "
                f"reconnecting (attempt {event.attempt}, in {event.retry_in:.2f}s)")
    if isinstance(event, EnvelopesMalformed):
        return describe_malformed(event, f"the rlp at {address}")
    if isinstance(event, EnvelopesDropped):
        return (f"the rlp dropped {event.delta} envelopes of this stream ({event.total} in all): "
                "this consumer is slower than the firehose")
    return f"reconnected to the rlp at {address} after {event.outage:.1f}s; envelopes sent meanwhile are lost"


__all__ = [
    "EgressClient", "EnvelopesDropped", "EnvelopesMalformed", "StreamEvent", "StreamInterrupted", "StreamResumed",
    "describe_event", "egress_request",
]
