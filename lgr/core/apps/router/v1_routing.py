"""v1 routing: which Doppler subscriptions get a v1 (dropsonde) envelope, by upstream's rules.

Upstream's router (``router/internal/server/v1/router.go`` and ``sinks/message_router.go``) keys
subscriptions by a *filter* (appID, type) with type one of none, log or metric, then by shardID.
An envelope of app ``A`` and type ``T`` (LogMessage: log; every other event type: metric) is
delivered to the filters ("", T) and ("", none), and when ``A`` is not empty also (A, none) and
(A, T). At each filter, the subscribers with shardID "" each get a copy, and every non-empty
shardID group gets one copy, given to one member picked at random.

The app of an envelope (:func:`app_id`): a LogMessage's ``app_id``; a ContainerMetric's
``applicationId``; an HttpStartStop's ``applicationId`` formatted as a UUID when it is set, else
"system"; "system" for every other type.

Subscriptions are indexed copy-on-write (subscribe and unsubscribe build a new index and swap it
in), so publishing takes no lock. Subscribers receive the envelopes' bytes only.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Callable, Iterable

from lgr.core._proto.events import envelope_pb2 as v1_envelope_pb2
from lgr.core._proto.plumbing import doppler_pb2
from lgr.core.conversion.uuids import uuid_to_string

V1Envelope = v1_envelope_pb2.Envelope

NO_TYPE, LOG_TYPE, METRIC_TYPE = 0, 1, 2
SYSTEM_APP_ID = "system"

DeliverMany = Callable[[list[bytes]], object]
Rand = Callable[[int], int]
Filter = tuple[str, int]
Item = tuple[bytes, str, int]  # envelope bytes, app id, type (LOG_TYPE or METRIC_TYPE)


def _default_rand(n: int, _random: Callable[[], float] = random.random) -> int:
    return int(_random() * n)


def _text(value: str | bytes) -> str:
    # upb hands back bytes for a proto2 string holding invalid UTF-8; surrogates keep such an
    # app id from ever equalling a (valid UTF-8) filter app id.
    if value.__class__ is str:
        return value  # type: ignore[return-value]
    return value.decode("utf-8", "surrogateescape")  # type: ignore[union-attr]


def app_id(env: v1_envelope_pb2.Envelope) -> str:
    """The app an envelope belongs to, as upstream's router's getAppId reads it."""
    event_type = env.eventType
    if event_type == V1Envelope.LogMessage:
        return _text(env.logMessage.app_id)
    if event_type == V1Envelope.ContainerMetric:
        return _text(env.containerMetric.applicationId)
    if event_type == V1Envelope.HttpStartStop and env.httpStartStop.HasField("applicationId"):
        return uuid_to_string(env.httpStartStop.applicationId)
    return SYSTEM_APP_ID


def envelope_type(env: v1_envelope_pb2.Envelope) -> int:
    """LOG_TYPE for a LogMessage, METRIC_TYPE for every other event type."""
    return LOG_TYPE if env.eventType == V1Envelope.LogMessage else METRIC_TYPE


def route_item(data: bytes, env: v1_envelope_pb2.Envelope) -> Item:
    """The routing item of ``env``, which serializes to (or was parsed from) ``data``."""
    return (data, app_id(env), envelope_type(env))


def request_filter(request: doppler_pb2.SubscriptionRequest) -> Filter:
    """The (appID, type) a SubscriptionRequest subscribes to; no filter means every envelope."""
    if not request.HasField("filter"):
        return ("", NO_TYPE)
    f = request.filter
    which = f.WhichOneof("Message")
    kind = LOG_TYPE if which == "log" else METRIC_TYPE if which == "metric" else NO_TYPE
    return (f.appID, kind)


def filters_for(app: str, kind: int) -> tuple[Filter, ...]:
    """Every filter an envelope of app ``app`` and type ``kind`` is delivered to."""
    if app:
        return (("", kind), ("", NO_TYPE), (app, NO_TYPE), (app, kind))
    return (("", kind), ("", NO_TYPE))


class V1Subscription:
    """One Doppler subscription: its filter, shard id and delivery callback."""

    __slots__ = ("id", "filter", "shard_id", "deliver_many", "_router")

    def __init__(self, sub_id: int, request: doppler_pb2.SubscriptionRequest,
                 deliver_many: DeliverMany, router: V1Router) -> None:
        self.id = sub_id
        self.filter = request_filter(request)
        self.shard_id = request.shardID
        self.deliver_many = deliver_many
        self._router = router

    def unsubscribe(self) -> None:
        """Stop deliveries to this subscription; idempotent."""
        self._router.unsubscribe(self)

    def __repr__(self) -> str:
        return f"V1Subscription(id={self.id}, filter={self.filter}, shard_id={self.shard_id!r})"


# What one filter delivers to: the subscribers without a shard id, and each shard group.
_Node = tuple[tuple[V1Subscription, ...], tuple[tuple[V1Subscription, ...], ...]]


class V1Router:
    """Routes v1 envelopes to Doppler subscriptions by filter and shard id.

    ``rand(n)`` picks a shard-group member in ``range(n)``; pin it in tests.
    """

    def __init__(self, rand: Rand | None = None) -> None:
        self._rand = rand or _default_rand
        self._lock = threading.Lock()
        self._subs: dict[int, V1Subscription] = {}
        self._ids = itertools.count(1)
        self._index: dict[Filter, _Node] = {}

    def __len__(self) -> int:
        return len(self._subs)

    def subscribe(self, request: doppler_pb2.SubscriptionRequest,
                  deliver_many: DeliverMany) -> V1Subscription:
        """Register ``request``; ``deliver_many(list_of_bytes)`` gets its envelopes per batch."""
        with self._lock:
            sub = V1Subscription(next(self._ids), request, deliver_many, self)
            self._subs[sub.id] = sub
            self._rebuild()
        return sub

    def unsubscribe(self, sub: V1Subscription) -> None:
        """Remove ``sub``; unknown or already removed subscriptions are ignored."""
        with self._lock:
            if self._subs.pop(sub.id, None) is not None:
                self._rebuild()

    def publish_batch(self, items: Iterable[Item]) -> int:
        """Deliver each ``(bytes, app_id, type)`` item where it is due; return the copies made.

        Each subscription gets its copies in order in one ``deliver_many`` call.
        """
        index = self._index
        if not index:
            return 0
        rand = self._rand
        pending: dict[V1Subscription, list[bytes]] = {}
        for data, app, kind in items:
            for f in filters_for(app, kind):
                node = index.get(f)
                if node is None:
                    continue
                solo, groups = node
                targets = list(solo)
                for group in groups:
                    targets.append(group[0] if len(group) == 1 else group[rand(len(group))])
                for sub in targets:
                    copies = pending.get(sub)
                    if copies is None:
                        pending[sub] = [data]
                    else:
                        copies.append(data)
        count = 0
        for sub, copies in pending.items():
            sub.deliver_many(copies)
            count += len(copies)
        return count

    def _rebuild(self) -> None:
        grouped: dict[Filter, tuple[list[V1Subscription], dict[str, list[V1Subscription]]]] = {}
        for sub in self._subs.values():
            solo, groups = grouped.setdefault(sub.filter, ([], {}))
            if sub.shard_id:
                groups.setdefault(sub.shard_id, []).append(sub)
            else:
                solo.append(sub)
        self._index = {f: (tuple(solo), tuple(tuple(g) for g in groups.values()))
                       for f, (solo, groups) in grouped.items()}
