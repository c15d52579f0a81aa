"""End-to-end helpers: a consumer of the rlp, an emitter into the agent, and metrics readers.

They speak the wire protocol with plain grpc stubs (not lgr's clients), so the tests check the
servers against the protocol rather than against lgr's own client code.
"""

from __future__ import annotations

import re
import ssl
import threading
import urllib.request
from collections.abc import Iterable, Sequence
from pathlib import Path

import grpc

from lgr.core._proto.loggregator.v2 import egress_pb2, envelope_pb2, ingress_pb2
from lgr.core.tls import channel_options, client_credentials

Files = tuple[Path, Path, Path]

_SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", re.MULTILINE)
_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def channel(address: str, files: Files, server_name: str) -> grpc.Channel:
    """An mTLS channel to ``address`` verifying the server as ``server_name``."""
    return grpc.secure_channel(address, client_credentials(*files), options=channel_options(server_name))


def selector(kind: str, source_id: str = "", **kwargs: object) -> egress_pb2.Selector:
    """A Selector of ``kind`` (log, counter, gauge, timer, event) for ``source_id``."""
    sel = egress_pb2.Selector(source_id=source_id)
    getattr(sel, kind).SetInParent()
    if kind == "counter" and kwargs.get("name"):
        sel.counter.name = str(kwargs["name"])
    if kind == "gauge" and kwargs.get("names"):
        sel.gauge.names.extend(kwargs["names"])  # type: ignore[arg-type]
    return sel


def all_kinds(source_id: str = "") -> list[egress_pb2.Selector]:
    return [selector(k, source_id) for k in ("log", "counter", "gauge", "timer", "event")]


class Consumer:
    """Reads BatchedReceiver from the rlp on a thread and keeps every envelope received.

    ``stalled=True`` opens the stream but never reads it, like a consumer that stopped.
    """

    def __init__(self, rlp_address: str, files: Files, selectors: Sequence[egress_pb2.Selector],
                 shard_id: str = "", stalled: bool = False, use_preferred_tags: bool = True) -> None:
        self._channel = channel(rlp_address, files, "reverselogproxy")
        stub = self._channel.unary_stream(
            "/loggregator.v2.Egress/BatchedReceiver",
            request_serializer=egress_pb2.EgressBatchRequest.SerializeToString,
            response_deserializer=envelope_pb2.EnvelopeBatch.FromString,
        )
        request = egress_pb2.EgressBatchRequest(
            shard_id=shard_id, selectors=list(selectors), use_preferred_tags=use_preferred_tags)
        self._call = stub(request)
        self.envelopes: list[envelope_pb2.Envelope] = []
        self.error: grpc.RpcError | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        if not stalled:
            self._thread = threading.Thread(target=self._read, daemon=True)
            self._thread.start()

    def _read(self) -> None:
        try:
            for batch in self._call:
                with self._lock:
                    self.envelopes.extend(batch.batch)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                self.error = exc

    def received(self, source_id: str | None = None) -> list[envelope_pb2.Envelope]:
        """A snapshot of what arrived, optionally only from ``source_id``."""
        with self._lock:
            envs = list(self.envelopes)
        return envs if source_id is None else [e for e in envs if e.source_id == source_id]

    def payloads(self, source_id: str | None = None) -> list[bytes]:
        return [e.log.payload for e in self.received(source_id) if e.HasField("log")]

    def close(self) -> None:
        self._call.cancel()
        if self._thread is not None:
            self._thread.join(5)
        self._channel.close()


class Emitter:
    """Sends envelopes to the agent's Ingress: BatchSender streams (the data path) or Send."""

    def __init__(self, agent_address: str, files: Files) -> None:
        self._channel = channel(agent_address, files, "metron")
        self._batch_sender = self._channel.stream_unary(
            "/loggregator.v2.Ingress/BatchSender",
            request_serializer=envelope_pb2.EnvelopeBatch.SerializeToString,
            response_deserializer=ingress_pb2.BatchSenderResponse.FromString,
        )

    def send(self, envelopes: Iterable[envelope_pb2.Envelope], timeout: float = 5.0) -> None:
        """Send ``envelopes`` as one EnvelopeBatch on a BatchSender stream."""
        self.send_batches([list(envelopes)], timeout)

    def send_batches(self, batches: Iterable[list[envelope_pb2.Envelope]], timeout: float = 10.0) -> None:
        """Send each list as one EnvelopeBatch, all on one BatchSender stream."""
        requests = (envelope_pb2.EnvelopeBatch(batch=b) for b in batches)
        self._batch_sender(requests, timeout=timeout)

    def close(self) -> None:
        self._channel.close()


class Metrics:
    """Reads a component's Prometheus endpoint over HTTPS with a client certificate."""

    def __init__(self, url: str, files: Files) -> None:
        self.url = url
        ca, cert, key = files
        self._context = ssl.create_default_context(cafile=str(ca))
        self._context.load_cert_chain(str(cert), str(key))

    def text(self) -> str:
        with urllib.request.urlopen(self.url, context=self._context, timeout=5) as resp:
            return resp.read().decode()

    def value(self, name: str, **labels: str) -> float:
        """The sum of every sample of ``name`` whose labels include ``labels`` (0 when none)."""
        total = 0.0
        for m in _SAMPLE_RE.finditer(self.text()):
            if m.group(1) != name:
                continue
            have = dict(_LABEL_RE.findall(m.group(2) or ""))
            if all(have.get(k) == v for k, v in labels.items()):
                total += float(m.group(3))
        return total
