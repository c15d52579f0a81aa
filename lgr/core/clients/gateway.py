"""GatewayClient: reads envelopes from an rlp gateway's ``/v2/read`` (HTTPS, server-sent events).

:func:`read_params` builds upstream's query (``source_id`` repeated, the presence flags ``log``,
``counter``, ``gauge``, ``timer``, ``event``, ``counter.name``, ``gauge.name``, ``shard_id``).
Requests carry ``Authorization: bearer TOKEN``. Each ``data:`` event is an EnvelopeBatch in
protobuf JSON and comes out as a list of ``loggregator.v2.Envelope`` (lgr.core.clients.sse
splits the stream). ``event: heartbeat`` only proves the stream is alive; ``event: closing``
(the gateway's STREAM_TIMEOUT) makes the client reconnect at once. When the stream breaks, or
stays silent for ``idle_timeout`` (several missed heartbeats), it reconnects with backoff and
tells the caller through ``on_event``; envelopes sent meanwhile are lost, as with the rlp.

Errors retrying cannot fix end the iteration: :class:`GatewayError` for an error answer (404:
the token may not read that, as upstream answers every auth failure; 400: upstream's JSON error,
e.g. ``missing_envelope_type``), TLSConfigError for a certificate the CA does not vouch for,
UnavailableError when no connection succeeds within ``connect_timeout``.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass

import aiohttp
from google.protobuf import json_format

from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.clients.defaults import GatewayClientConfig, https_context
from lgr.core.clients.kinds import selected_kinds
from lgr.core.clients.reconnect import Interruption, Outage, StreamResumed
from lgr.core.clients.sse import EventTooLarge, SseDecoder
from lgr.core.errors import ExitCode, LgrError, TLSConfigError, UnavailableError
from lgr.core.salvage import EnvelopesMalformed, describe_malformed

READ_PATH = "/v2/read"
_ADDR_HINT = "is `lgr gateway start` running there? set --gateway-addr or LGR_GATEWAY_ADDR"
_TOKEN_HINT = ("pass a token that may read these sources with --token or LGR_TOKEN "
               "(`lgr token create`); the whole firehose needs an --admin token")


class GatewayError(LgrError):
    """The gateway answered with an error; ``status`` is the HTTP status, ``name`` upstream's
    error name (``not_found``, ``missing_envelope_type``, ...) when the body had one."""

    def __init__(self, message: str, status: int, name: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.status = status
        self.name = name
        self.exit_code = ExitCode.USAGE if status == 400 else ExitCode.UNAVAILABLE


@dataclass(frozen=True)
class Heartbeat:
    """The gateway said the stream is alive (it had nothing to send)."""


@dataclass(frozen=True)
class StreamRenewed:
    """The gateway closed the stream at its STREAM_TIMEOUT; the client reopened it at once."""


@dataclass(frozen=True)
class StreamInterrupted(Interruption):
    """The stream broke for ``reason``; the client retries in ``retry_in`` s (attempt ``attempt``)."""

    reason: str
    attempt: int
    retry_in: float


GatewayEvent = Heartbeat | StreamRenewed | StreamInterrupted | StreamResumed | EnvelopesMalformed


def read_params(source_ids: Iterable[str] = (), kinds: Iterable[str] = (), *, counter_name: str = "",
                gauge_names: Iterable[str] = (), shard_id: str = "",
                deterministic_name: str = "") -> list[tuple[str, str]]:
    """The /v2/read query for these sources and kinds (none: every kind, or those the name
    filters imply), as ``egress_request`` builds the same selectors for the rlp."""
    gauge_names = list(gauge_names)
    kinds = selected_kinds(kinds, counter_name, gauge_names)
    params = [("source_id", sid) for sid in dict.fromkeys(source_ids)]
    for kind in kinds:
        if kind == "counter" and counter_name:
            params.append(("counter.name", counter_name))
        elif kind == "gauge" and gauge_names:
            params.append(("gauge.name", ",".join(gauge_names)))
        else:
            params.append((kind, ""))
    params += [(key, value) for key, value in (("shard_id", shard_id),
                                               ("deterministic_name", deterministic_name)) if value]
    return params


class GatewayClient:
    """Stream envelopes matching ``params`` from the gateway at ``url``; see the module doc."""

    def __init__(self, url: str, params: list[tuple[str, str]], token: str = "",
                 ssl_context: ssl.SSLContext | None = None, *,
                 on_event: Callable[[GatewayEvent], None] | None = None,
                 connect_timeout: float = 5.0, idle_timeout: float = 60.0,
                 backoff: tuple[float, float] = (0.05, 2.0)) -> None:
        self.url = url.rstrip("/")
        self.params = params
        self.token = token
        self.received = 0
        self.reconnects = 0
        self.renewals = 0
        self.heartbeats = 0
        self.malformed = 0  # data events that were not an EnvelopeBatch (skipped)
        self._ssl = ssl_context
        self._on_event = on_event or (lambda event: None)
        self._connect_timeout = connect_timeout
        self._idle_timeout = idle_timeout
        self._backoff = backoff

    @classmethod
    def from_config(cls, config: GatewayClientConfig, params: list[tuple[str, str]],
                    **kwargs) -> GatewayClient:
        """A client for ``config.gateway_url`` with its token; HTTPS trusts ``config.ca_file``
        when that file exists, else the system's roots."""
        return cls(config.gateway_url, params, config.token,
                   https_context(config.gateway_url, config.ca_file), **kwargs)

    async def envelopes(self) -> AsyncIterator[envelope_pb2.Envelope]:
        """Yield envelopes one at a time (see :meth:`batches`)."""
        async for batch in self.batches():
            for env in batch:
                yield env

    async def batches(self) -> AsyncIterator[list[envelope_pb2.Envelope]]:
        """Yield each batch the gateway sends, reconnecting until the caller stops iterating."""
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self._connect_timeout,
                                        sock_read=self._idle_timeout)
        headers = {"Authorization": f"bearer {self.token}"} if self.token else {}
        started = time.monotonic()
        outage = Outage()
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                renewed = False
                try:
                    async with session.get(self.url + READ_PATH, params=self.params, headers=headers,
                                           ssl=self._ssl if self._ssl is not None else True) as resp:
                        if resp.status != 200:
                            raise self._error(resp.status, await resp.read())
                        lasted = outage.end()
                        if lasted is not None:
                            self._on_event(StreamResumed(lasted))
                        decoder = SseDecoder()
                        async for chunk in resp.content.iter_any():
                            for event, data in decoder.feed(chunk):
                                if event == "closing":
                                    renewed = True
                                    break
                                batch = self._handle(event, data)
                                if batch:
                                    self.received += len(batch)
                                    yield batch
                            if renewed:
                                break
                    reason = "the gateway ended the stream"
                except aiohttp.ClientConnectorCertificateError as exc:
                    raise TLSConfigError(
                        f"the rlp gateway at {self.url} presented a certificate this client does "
                        f"not trust: {exc.certificate_error}",
                        hint="set --ca-file or LGR_CA_FILE to the CA that signed the gateway's "
                        "certificate") from None
                except EventTooLarge as exc:
                    raise UnavailableError(f"the rlp gateway at {self.url} sent {exc}",
                                           hint=_ADDR_HINT) from None
                except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                    reason = _describe(exc)
                if renewed:
                    self.renewals += 1
                    self._on_event(StreamRenewed())
                    continue
                if not outage.connected_once and time.monotonic() - started > self._connect_timeout:
                    raise UnavailableError(f"cannot reach the rlp gateway at {self.url}: {reason}",
                                           hint=_ADDR_HINT)
                delay = outage.begin(self._backoff)
                if outage.connected_once:
                    self.reconnects += 1
                    self._on_event(StreamInterrupted(reason, outage.attempts, delay))
                await asyncio.sleep(delay)

    def _handle(self, event: str, data: str) -> list[envelope_pb2.Envelope]:
        if event == "heartbeat":
            self.heartbeats += 1
            self._on_event(Heartbeat())
            return []
        if event not in ("", "message") or not data:
            return []
        try:
            return list(json_format.Parse(data, envelope_pb2.EnvelopeBatch(),
                                          ignore_unknown_fields=True).batch)
        except json_format.ParseError:
            self.malformed += 1
            self._on_event(EnvelopesMalformed(1, self.malformed))
            return []

    def _error(self, status: int, body: bytes) -> GatewayError:
        try:
            doc = json.loads(body)
            message, name = str(doc.get("message", "")), str(doc.get("error", ""))
        except (ValueError, AttributeError):
            message, name = body.decode("utf-8", "replace").strip(), ""
        if status == 404 and name == "not_found":
            if not self.token:
                return GatewayError(f"the rlp gateway at {self.url} needs a token (it answered 404)",
                                    status, name, hint=_TOKEN_HINT)
            return GatewayError(f"the rlp gateway at {self.url} refused the token for this request "
                                "(404)", status, name, hint=_TOKEN_HINT)
        if status == 404:
            return GatewayError(f"{self.url} does not serve {READ_PATH} (404: {message})", status,
                                name, hint=_ADDR_HINT)
        if status == 400:
            return GatewayError(f"the rlp gateway rejected the request: {message} ({name})",
                                status, name, hint="check the source ids and type filters")
        return GatewayError(f"the rlp gateway at {self.url} answered {status}: {message}", status,
                            name)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return "no data or heartbeat in time"
    return str(exc) or type(exc).__name__


def describe_event(event: GatewayEvent, url: str) -> str | None:
    """A one-line status for a stream event, for a CLI's status line (None: not worth one)."""
    if isinstance(event, StreamInterrupted):
        return (f"stream from the rlp gateway at {url} broke ({event.reason}); reconnecting "
                f"(attempt {event.attempt}, in {event.retry_in:.2f}s)")
    if isinstance(event, EnvelopesMalformed):
        return describe_malformed(event, f"the rlp gateway at {url}").replace(
            "envelopes", "data events", 1)
    if isinstance(event, StreamResumed):
        return (f"reconnected to the rlp gateway at {url} after {event.outage:.1f}s; envelopes "
                "sent meanwhile are lost")
    return None


__all__ = [
    "GatewayClient", "GatewayError", "GatewayEvent", "Heartbeat", "StreamInterrupted",
    "StreamRenewed", "StreamResumed", "describe_event", "read_params",
]
