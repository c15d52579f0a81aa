"""PubSub: the router's fan-out of envelopes to egress subscriptions by selector and shard group.

Delivery counts follow upstream's router (``router/internal/server/v2`` on go-pubsub), pinned by
tests/vectors/selectors.json:

* Each selector of a request places the subscription at one *node*: (source_id or any, message
  type, counter name / gauge names or any). An envelope is delivered once per node it matches,
  so two matching selectors of one request give two copies (upstream does not de-duplicate).
* Within a node, subscriptions with an empty shard_id each get a copy. Those sharing a non-empty
  shard_id form a group that gets one copy, given to one member, so identical selectors with a
  shard_id give one copy. When any member set ``deterministic_name``, members are ordered by that
  name and counters/gauges go to member ``crc64(name) % n`` (gauges: the sum over metric names),
  so a metric name always reaches the same member, as on an upstream router. Otherwise, and for
  other types, the member is ``rand(n)``.

Publishing takes no lock. Subscribe/unsubscribe rebuild the index ``type -> source_id -> detail
-> node`` and swap it in whole; publishing resolves each (type, source_id) once into a cached
route, so its work is O(matching subscriptions). Envelopes come in as the parsed message plus its
bytes, or as bytes with the source_id and type peeked from the wire (``envelope.peek_batch``), in
which case the envelope is parsed only when a counter name, gauge names or deterministic routing
is needed. Subscribers receive only the bytes.
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
from collections.abc import Callable, Iterable

from lgr.core._proto.loggregator.v2 import egress_pb2, envelope_pb2
from lgr.core.crc64 import crc64_ecma
from lgr.core.selectors import CompiledSelector, compile_selectors, envelope_detail

logger = logging.getLogger(__name__)

Deliver = Callable[[bytes], object]
DeliverMany = Callable[[list[bytes]], object]
Rand = Callable[[int], int]
Request = egress_pb2.EgressRequest | egress_pb2.EgressBatchRequest

_MAX_ROUTES = 65536  # cached (type, source_id) routes; source ids are app GUIDs, so bound them
_MASK64 = (1 << 64) - 1


def _default_rand(n: int, _random: Callable[[], float] = random.random) -> int:
    return int(_random() * n)


class Subscription:
    """One egress subscription: a request's compiled selectors, its shard and its callbacks."""

    __slots__ = ("id", "deliver", "deliver_many", "shard_id", "deterministic_name", "selectors",
                 "errors", "_pubsub")

    def __init__(self, sub_id: int, request: Request, deliver: Deliver,
                 deliver_many: DeliverMany | None, pubsub: PubSub) -> None:
        self.id = sub_id
        self.deliver = deliver
        self.deliver_many = deliver_many
        self.shard_id: str = request.shard_id
        self.deterministic_name: str = request.deterministic_name
        # Upstream's router ignores legacy_selector; the RLP has converted it already.
        self.selectors: list[CompiledSelector] = compile_selectors(request.selectors)
        self.errors = 0
        self._pubsub = pubsub

    def unsubscribe(self) -> None:
        """Stop deliveries to this subscription; idempotent."""
        self._pubsub.unsubscribe(self)

    def __repr__(self) -> str:
        return f"Subscription(id={self.id}, shard_id={self.shard_id!r}, selectors={self.selectors})"


class _Group:
    """The members of one shard group at one node; each envelope goes to one of them."""

    __slots__ = ("members", "deterministic")

    def __init__(self, members: list[Subscription]) -> None:
        # Upstream orders members by deterministic name; a stable sort keeps equal names in
        # subscription order, as its insertion sort does for small groups.
        self.members = tuple(sorted(members, key=lambda s: s.deterministic_name))
        self.deterministic = any(s.deterministic_name for s in members)


class _Node:
    """What one distinct selector delivers to: unsharded subscriptions and shard groups."""

    __slots__ = ("solo", "groups")

    def __init__(self, solo: tuple[Subscription, ...], groups: tuple[_Group, ...]) -> None:
        self.solo = solo
        self.groups = groups


class _Route:
    """Everything one (type, source_id) reaches: nodes without a detail, merged, plus buckets
    of counter-name / gauge-names nodes that need the envelope to pick from."""

    __slots__ = ("solo", "groups", "detailed", "needs_envelope")

    def __init__(self, kind: str, buckets: list[dict[object, _Node]]) -> None:
        plain = [b[None] for b in buckets if None in b]
        self.solo = tuple(s for node in plain for s in node.solo)
        self.groups = tuple(g for node in plain for g in node.groups)
        self.detailed = tuple(b for b in buckets if len(b) > (None in b))
        self.needs_envelope = bool(self.detailed) or (
            kind in ("counter", "gauge") and any(g.deterministic for g in self.groups))


Index = dict[str, dict[str, dict[object, _Node]]]


class PubSub:
    """Routes published envelopes to the subscriptions whose selectors match them.

    ``rand(n)`` picks a shard-group member in ``range(n)``; pass ``lambda n: 0`` (as upstream's
    vectors were made) or ``random.Random(seed).randrange`` to pin it in tests.
    """

    def __init__(self, rand: Rand | None = None) -> None:
        self._rand = rand or _default_rand
        self._lock = threading.Lock()
        self._subs: dict[int, Subscription] = {}
        self._ids = itertools.count(1)
        self._index: Index = {}
        self._routes: dict[tuple[str, str], _Route] = {}

    def subscribe(self, request: Request, deliver: Deliver,
                  deliver_many: DeliverMany | None = None) -> Subscription:
        """Register ``request``; ``deliver(envelope_bytes)`` is called once per copy it is due.

        :meth:`publish_batch` calls ``deliver_many(list_of_bytes)`` once per batch instead, when
        given (e.g. ``diode.put`` and ``diode.put_many``). The request is taken as the router gets
        it: no validation, and selectors without a message are skipped (call
        :func:`lgr.core.selectors.validate` at the edge). Callbacks run on the publisher's
        thread, so they must not block.
        """
        with self._lock:
            sub = Subscription(next(self._ids), request, deliver, deliver_many, self)
            self._subs[sub.id] = sub
            self._rebuild()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Remove ``sub``; unknown or already removed subscriptions are ignored."""
        with self._lock:
            if self._subs.pop(sub.id, None) is not None:
                self._rebuild()

    def __len__(self) -> int:
        return len(self._subs)

    @property
    def subscription_count(self) -> int:
        """How many subscriptions are registered (upstream's ``subscriptions`` gauge)."""
        return len(self._subs)

    def publish(self, envelope: envelope_pb2.Envelope, data: bytes) -> int:
        """Deliver ``data`` (the serialized ``envelope``) once per copy due; return the copy count."""
        kind = envelope.WhichOneof("message")
        if kind is None:
            return 0
        return _send(self._targets(kind, envelope.source_id, data, envelope), data)

    def publish_peeked(self, data: bytes, source_id: str, kind: str) -> int:
        """As :meth:`publish`, for bytes whose source_id and kind were peeked from the wire.

        Raises DecodeError only if routing must parse ``data`` and cannot. ``kind`` "" (an
        envelope without a message) delivers nothing.
        """
        if not kind:
            return 0
        return _send(self._targets(kind, source_id, data, None), data)

    def publish_batch(self, items: Iterable[tuple[bytes, str, str]]) -> int:
        """Publish ``(bytes, source_id, kind)`` triples, as ``envelope.peek_batch`` returns them.

        Each subscription gets its copies in order in one ``deliver_many`` call (or one
        ``deliver`` per copy without it): one diode lock per batch instead of per envelope.
        """
        pending: dict[Subscription, list[bytes]] = {}
        for data, source_id, kind in items:
            if not kind:
                continue
            for sub in self._targets(kind, source_id, data, None):
                copies = pending.get(sub)
                if copies is None:
                    pending[sub] = [data]
                else:
                    copies.append(data)
        count = 0
        for sub, copies in pending.items():
            if sub.deliver_many is None:
                count += sum(_send((sub,), data) for data in copies)
                continue
            try:
                sub.deliver_many(copies)
                count += len(copies)
            except Exception:
                _record_error(sub)
        return count

    def _targets(self, kind: str, source_id: str, data: bytes,
                 envelope: envelope_pb2.Envelope | None) -> list[Subscription] | tuple:
        routes = self._routes
        route = routes.get((kind, source_id))
        if route is None:
            route = self._resolve(routes, kind, source_id)
        if not route.groups and not route.detailed:
            return route.solo
        if route.needs_envelope and envelope is None:
            envelope = envelope_pb2.Envelope.FromString(data)
        targets = list(route.solo)
        self._pick(route.groups, kind, envelope, targets)
        if route.detailed:
            detail = envelope_detail(envelope, kind)  # type: ignore[arg-type]
            for bucket in route.detailed:
                node = bucket.get(detail)
                if node is not None:
                    targets.extend(node.solo)
                    self._pick(node.groups, kind, envelope, targets)
        return targets

    def _pick(self, groups: tuple[_Group, ...], kind: str, envelope, out: list) -> None:
        for group in groups:
            members = group.members
            n = len(members)
            if n == 1:
                out.append(members[0])
            elif group.deterministic and (kind == "counter" or kind == "gauge"):
                out.append(members[_routing_hash(envelope, kind) % n])
            else:
                out.append(members[self._rand(n)])

    def _resolve(self, routes: dict[tuple[str, str], _Route], kind: str, source_id: str) -> _Route:
        by_source = self._index.get(kind, {})
        buckets = [by_source.get(""), by_source.get(source_id) if source_id else None]
        route = _Route(kind, [b for b in buckets if b])
        if len(routes) >= _MAX_ROUTES:
            routes.clear()
        routes[(kind, source_id)] = route
        return route

    def _rebuild(self) -> None:
        # Index and route cache are replaced together, never mutated, so a publisher on another
        # thread sees either the old pair or the new one.
        grouped: dict[tuple[str, str, object], tuple[list, dict[str, list]]] = {}
        for sub in self._subs.values():
            for sel in sub.selectors:
                solo, groups = grouped.setdefault(tuple(sel), ([], {}))
                if sub.shard_id:
                    groups.setdefault(sub.shard_id, []).append(sub)
                else:
                    solo.append(sub)
        index: Index = {}
        for (source_id, kind, detail), (solo, groups) in grouped.items():
            node = _Node(tuple(solo), tuple(_Group(m) for m in groups.values()))
            index.setdefault(kind, {}).setdefault(source_id, {})[detail] = node
        self._index, self._routes = index, {}


def _send(targets, data: bytes) -> int:
    count = 0
    for sub in targets:
        try:
            sub.deliver(data)
            count += 1
        except Exception:
            _record_error(sub)
    return count


def _record_error(sub: Subscription) -> None:
    # A broken subscriber must not stop the fan-out to the others; say so once, then count.
    sub.errors += 1
    if sub.errors == 1:
        logger.exception("pubsub: delivery to subscription %d failed", sub.id)


def _routing_hash(envelope: envelope_pb2.Envelope, kind: str) -> int:
    if kind == "counter":
        return crc64_ecma(envelope.counter.name)
    return sum(crc64_ecma(name) for name in envelope.gauge.metrics) & _MASK64
