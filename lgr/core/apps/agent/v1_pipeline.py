"""Agent v1 pipeline: dropsonde datagrams checked, counted and tagged as upstream's agent does.

Upstream's agent keeps v1 (UDP) events on a path of their own (cmd/agent/app/app_v1.go), apart
from v2, and forwards them to the routers as v1 envelopes over DopplerIngestor/Pusher:

1. unmarshal (ingress/v1): a datagram that is not an ``events.Envelope`` with its required
   fields, or whose eventType names a message it lacks, is dropped (lgr counts it in
   ``malformed{metric_version="1.0"}``, the counter the agent passes in); an empty or missing ``source_id`` tag becomes the origin;
2. counter aggregator (egress/v1): a CounterEvent with a non-zero total sets the running total of
   its (origin, name, v1 tags) and passes as it is; any other gets the running total plus its
   delta as its total. The book is this pipeline's own, apart from the v2 path's;
3. tagger (egress/v1): deployment, job, index and ip are set from AGENT_DEPLOYMENT, AGENT_JOB,
   AGENT_INDEX and AGENT_IP where the envelope has none (even to ""); nothing else, so AGENT_TAGS
   never reach v1 events.

An envelope that none of this changes is forwarded as the very datagram received; one that it
changes is serialized again (a CounterEvent whose tags hold invalid UTF-8, which upb will not
read back for the counter's key, is forwarded untouched). The result goes into the pipeline's own drop-oldest buffer (10000,
as upstream's network reader; drops counted in ``dropped{direction="all",metric_version="1.0"}``
as upstream names them), which :mod:`.v1_egress` drains to the routers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from google.protobuf.message import DecodeError

from lgr.core._proto.events import envelope_pb2 as v1_envelope_pb2
from lgr.core.conversion.tov1 import varint
from lgr.core.diode import Diode
from lgr.core.drops import DropTracker
from lgr.core.metrics import Counter, Registry

log = logging.getLogger("lgr.agent")

V1Envelope = v1_envelope_pb2.Envelope
BUFFER_SIZE = 10000  # upstream's network reader buffer
MAX_COUNTERS = 10000  # counter identities kept before the book starts over (lgr's bound)
_UINT64 = (1 << 64) - 1
_DEFAULT_FIELDS = ("deployment", "job", "index", "ip")

# eventType -> the message field it requires.
_MESSAGE_FOR_TYPE = {
    V1Envelope.HttpStartStop: "httpStartStop",
    V1Envelope.LogMessage: "logMessage",
    V1Envelope.ValueMetric: "valueMetric",
    V1Envelope.CounterEvent: "counterEvent",
    V1Envelope.Error: "error",
    V1Envelope.ContainerMetric: "containerMetric",
}


def parse_datagram(data: bytes) -> V1Envelope | None:
    """The v1 envelope of one datagram, or None where upstream's unmarshaller refuses it."""
    try:
        env = V1Envelope.FromString(data)
    except DecodeError:
        return None
    if not env.IsInitialized():
        return None
    field = _MESSAGE_FOR_TYPE.get(env.eventType)
    if field is None or not env.HasField(field):
        return None
    return env


class V1CounterTotals:
    """Upstream's v1 MessageAggregator: running totals keyed on (origin, name, v1 tags)."""

    def __init__(self, max_counters: int = MAX_COUNTERS) -> None:
        self._totals: dict[tuple[str, str, frozenset[tuple[str, str]]], int] = {}
        self._max = max_counters
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._totals)

    def apply(self, env: V1Envelope) -> bool:
        """Set a CounterEvent's total from its running total; True when ``env`` changed."""
        counter = env.counterEvent
        key = (env.origin, counter.name, frozenset(env.tags.items()))
        with self._lock:
            totals = self._totals
            if len(totals) > self._max:
                totals.clear()
            if counter.total != 0:
                totals[key] = counter.total
                return False
            total = (totals.get(key, 0) + counter.delta) & _UINT64
            totals[key] = total
        changed = not counter.HasField("total") or counter.total != total
        counter.total = total
        return changed


class V1Pipeline:
    """Datagrams in (:meth:`accept`, from the UDP thread); v1 envelope bytes out, in ``diode``."""

    def __init__(self, metrics: Registry, malformed: Counter, deployment: str = "", job: str = "",
                 index: str = "", ip: str = "", buffer_size: int = BUFFER_SIZE) -> None:
        self._defaults = tuple(zip(_DEFAULT_FIELDS, (deployment, job, index, ip)))
        self.totals = V1CounterTotals()
        self.ingress = metrics.counter(
            "ingress", "Total number of envelopes ingressed by the agent.",
            {"metric_version": "1.0"})
        self.malformed = malformed
        self.dropped = metrics.counter(
            "dropped", "Total number of dropped envelopes.",
            {"direction": "all", "metric_version": "1.0"})
        self.diode: Diode[bytes] = Diode(
            buffer_size, DropTracker("agent v1 buffer", [self.dropped]))

    def accept(self, datagrams: Iterable[bytes]) -> None:
        """Check, count, aggregate and tag each datagram; queue the survivors' bytes."""
        out = []
        bad = 0
        failed = None
        prepare = self.prepare
        for data in datagrams:
            try:
                prepared = prepare(data)
            except Exception as exc:  # noqa: BLE001 - lose this datagram only, not the batch
                prepared, failed = None, exc
            if prepared is None:
                bad += 1
            else:
                out.append(prepared)
        if failed is not None:
            log.warning("agent udp: a datagram could not be prepared (counted in malformed): %r",
                        failed)
        if bad:
            self.malformed.inc(bad)
        if out:
            self.ingress.inc(len(out))
            self.diode.put_many(out)

    def prepare(self, data: bytes) -> bytes | None:
        """The bytes to forward for one datagram, or None when it is refused."""
        env = parse_datagram(data)
        if env is None:
            return None
        try:
            return self._prepare(env, data)
        except UnicodeDecodeError:
            # proto2 lets the tags map hold invalid UTF-8, which upb will not iterate (a counter's
            # key needs every tag): forwarded untouched (upstream would count and tag it).
            return data

    def _prepare(self, env: V1Envelope, data: bytes) -> bytes:
        changed = False
        tags = env.tags
        if not tags.get("source_id"):
            _set_source_id(env, env.origin)
            changed = True
        if env.eventType == V1Envelope.CounterEvent and self.totals.apply(env):
            changed = True
        for name, value in self._defaults:
            if not env.HasField(name):
                setattr(env, name, value)
                changed = True
        return env.SerializeToString() if changed else data


def _set_source_id(env: V1Envelope, origin: str | bytes) -> None:
    if origin.__class__ is str:
        env.tags["source_id"] = origin  # type: ignore[assignment]
        return
    # An origin that is not UTF-8 (proto2 allows it) comes as bytes, which upb will not take
    # into a string map; merged in as wire data, the tag holds the same bytes, as upstream's.
    entry = b"\x0a\x09source_id\x12" + varint(len(origin)) + origin  # type: ignore[operator]
    env.MergeFromString(b"\x8a\x01" + varint(len(entry)) + entry)

