"""Recent store: each app's latest logs and container metrics for /recentlogs, /containermetrics.

Upstream's traffic controller answers both from log cache (logs: the newest first, up to
``limit`` (default 1000); container metrics: the newest per instance index within the last
minute), and so does lgr's when LOG_CACHE_ADDR is set (lgr.core.apps.tc.cache_recent). Without
a log cache the controller keeps them itself, in this store, fed by its own firehose
subscription to every router (logs and gauges of every source, no shard id):

* the last LGR_TC_RECENT_LOGS (100) logs per app, as the routers sent them (v2 bytes);
* the newest container metric per instance index (a gauge carrying cpu, memory, disk,
  memory_quota and disk_quota, by the v2 → v1 rules);
* for at most LGR_TC_RECENT_APPS (1000) apps, dropping the one written least recently.

So only what arrived since the controller started is there, and each controller knows only
its own history. Answers are converted to v1 when asked for.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable

from google.protobuf.message import DecodeError

from lgr.core._proto.events import envelope_pb2 as v1_envelope_pb2
from lgr.core._proto.loggregator.v2 import egress_pb2, envelope_pb2
from lgr.core.apps.tc.frames import FrameEncoder, egress_request
from lgr.core.salvage import peek_batch_salvaged

CONTAINER_METRICS_WINDOW = 60.0  # seconds, as upstream's log-cache read (now - 1 minute)
MAX_INSTANCES = 1000  # container metrics kept per app
DEFAULT_LIMIT = 1000  # upstream's recentlogs limit when none is given
_CONTAINER_METRICS = ("cpu", "memory", "disk", "memory_quota", "disk_quota")

Envelope = envelope_pb2.Envelope


def container_metric_names(metrics: object) -> bool:
    """True when a gauge's metric names include every container metric (cpu, memory, ...)."""
    return all(name in metrics for name in _CONTAINER_METRICS)  # type: ignore[operator]


class _App:
    __slots__ = ("logs", "metrics")

    def __init__(self, logs_per_app: int) -> None:
        self.logs: collections.deque[bytes] = collections.deque(maxlen=max(logs_per_app, 1))
        # instance index -> (timestamp ns, v1 ContainerMetric envelope bytes)
        self.metrics: dict[int, tuple[int, bytes]] = {}


class RecentStore:
    """Bounded recent logs and container metrics per app; :meth:`accept` takes router batches."""

    def __init__(self, logs_per_app: int, max_apps: int, encoder: FrameEncoder,
                 clock: Callable[[], int] = time.time_ns) -> None:
        self.logs_per_app = logs_per_app
        self.max_apps = max_apps
        self._encoder = encoder
        self._clock = clock
        self._apps: collections.OrderedDict[str, _App] = collections.OrderedDict()

    @property
    def enabled(self) -> bool:
        """False when LGR_TC_RECENT_LOGS is 0: nothing is kept."""
        return self.logs_per_app > 0

    @staticmethod
    def request() -> egress_pb2.EgressBatchRequest:
        """What the store reads from the routers: every source's logs and gauges."""
        return egress_request("", ("log", "gauge"))

    def __len__(self) -> int:
        return len(self._apps)

    def accept(self, batch: bytes) -> None:
        """Keep what matters of a router's EnvelopeBatch; envelopes that do not parse are skipped
        and counted."""
        items, malformed = peek_batch_salvaged(batch)
        self._encoder.note_malformed(malformed)
        for data, source_id, kind in items:
            if kind == "log" and source_id:
                self._app(source_id).logs.append(data)
            elif kind == "gauge" and source_id:
                self._gauge(data, source_id)

    def recent_logs(self, app_id: str, limit: int = DEFAULT_LIMIT) -> list[bytes]:
        """Up to ``limit`` of the app's logs as v1 envelope bytes, the newest first."""
        app = self._apps.get(app_id)
        if app is None or limit <= 0:
            return []
        envs = []
        for data in app.logs:
            try:
                envs.append(Envelope.FromString(data))
            except DecodeError:
                continue
        envs.sort(key=lambda e: e.timestamp, reverse=True)
        return self._encoder.convert(envs[:limit])

    def container_metrics(self, app_id: str) -> list[bytes]:
        """The app's newest container metric per instance of the last minute, as v1 bytes."""
        app = self._apps.get(app_id)
        if app is None:
            return []
        since = self._clock() - int(CONTAINER_METRICS_WINDOW * 1e9)
        return [data for ts, data in sorted(app.metrics.values()) if ts >= since]

    def _app(self, app_id: str) -> _App:
        apps = self._apps
        app = apps.get(app_id)
        if app is None:
            app = apps[app_id] = _App(self.logs_per_app)
            while len(apps) > self.max_apps:
                apps.popitem(last=False)
        else:
            apps.move_to_end(app_id)
        return app

    def _gauge(self, data: bytes, source_id: str) -> None:
        try:
            env = Envelope.FromString(data)
        except DecodeError:
            return
        if not container_metric_names(env.gauge.metrics):
            return
        frames = self._encoder.convert([env])
        if len(frames) != 1:
            return
        v1 = v1_envelope_pb2.Envelope.FromString(frames[0])
        if v1.eventType != v1_envelope_pb2.Envelope.ContainerMetric:
            return
        index = v1.containerMetric.instanceIndex
        app = self._app(source_id)
        old = app.metrics.get(index)
        if old is None and len(app.metrics) >= MAX_INSTANCES:
            return
        if old is None or old[0] <= env.timestamp:
            app.metrics[index] = (env.timestamp, frames[0])
