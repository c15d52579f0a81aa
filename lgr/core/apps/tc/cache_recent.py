"""Cache recent: the traffic controller's recent logs and container metrics, read from a log cache.

Used when LOG_CACHE_ADDR is set, as upstream's controller does (else lgr.core.apps.tc.recent):

* ``/recentlogs``: the app's newest logs (``envelope_types=LOG``, descending, ``limit``; above
  the cache's maximum of 1000 it asks for 1000, and 0 asks for nothing);
* ``/containermetrics``: the app's gauges of the last minute, of which each instance's newest
  container metric (cpu, memory, disk, memory_quota and disk_quota) is kept;

both converted to v1 by the core rules. Each read carries the caller's own bearer token, so the
cache applies its access rules too; reads are bounded by ``timeout`` (upstream's 5 s). Failures
raise what lgr.core.clients.logcache raises, or TimeoutError; the handler answers 500.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from lgr.core._proto.events import envelope_pb2 as v1_envelope_pb2
from lgr.core.apps.tc.config import TcConfig
from lgr.core.apps.tc.frames import FrameEncoder
from lgr.core.apps.tc.recent import CONTAINER_METRICS_WINDOW, DEFAULT_LIMIT, container_metric_names
from lgr.core.clients.logcache import MAX_LIMIT, LogCacheClient
from lgr.core.tls import client_ssl_context, load_certificates

READ_TIMEOUT = 5.0  # seconds, upstream's recent logs handler deadline
METRICS_READ_LIMIT = 1000  # gauges of the last minute read per /containermetrics request


def bearer_token(authorization: str) -> str:
    """The token of an ``Authorization`` value (``bearer xyz`` → ``xyz``; no scheme: as given)."""
    scheme, sep, rest = authorization.strip().partition(" ")
    return rest.strip() if sep and scheme.lower() == "bearer" else authorization.strip()


def cache_ssl_context(config: TcConfig) -> ssl.SSLContext:
    """The HTTPS client context towards the log cache (files checked now)."""
    ca = config.log_cache_ca_file or config.ca_file
    ca_env = "LOG_CACHE_CA_FILE" if config.log_cache_ca_file else "ROUTER_CA_FILE"
    if config.log_cache_cert_file:
        return client_ssl_context(ca, config.log_cache_cert_file, config.log_cache_key_file,
                                  env=(ca_env, "LOG_CACHE_CERT_FILE", "LOG_CACHE_KEY_FILE"))
    load_certificates(ca, role="CA", env=ca_env)
    return ssl.create_default_context(cafile=ca)


class CacheRecent:
    """Reads an app's recent logs and container metrics from ``client`` as v1 envelope bytes."""

    def __init__(self, client: LogCacheClient, encoder: FrameEncoder, timeout: float = READ_TIMEOUT,
                 clock: Callable[[], int] = time.time_ns) -> None:
        self.client = client
        self._encoder = encoder
        self._timeout = timeout
        self._clock = clock

    @classmethod
    def from_config(cls, config: TcConfig, encoder: FrameEncoder) -> CacheRecent:
        """A reader of LOG_CACHE_ADDR with its TLS settings (files checked now for https)."""
        url = config.log_cache_url
        context, server_name = None, None
        if url.startswith("https://"):
            context = cache_ssl_context(config)
            server_name = config.log_cache_server_name or urlsplit(url).hostname
        return cls(LogCacheClient(url, ssl_context=context, timeout=READ_TIMEOUT,
                                  server_hostname=server_name), encoder)

    async def close(self) -> None:
        await self.client.close()

    async def recent_logs(self, app_id: str, limit: int = DEFAULT_LIMIT, token: str = "") -> list[bytes]:
        """Up to ``limit`` of the app's newest logs as v1 envelope bytes, the newest first."""
        if limit <= 0:
            return []
        async with asyncio.timeout(self._timeout):
            envs = await self.client.read(app_id, 0, None, ["LOG"], min(limit, MAX_LIMIT),
                                          descending=True, token=token)
        return self._encoder.convert(e for e in envs if e.WhichOneof("message") == "log")

    async def container_metrics(self, app_id: str, token: str = "") -> list[bytes]:
        """The newest container metric of each of the app's instances in the last minute."""
        since = self._clock() - int(CONTAINER_METRICS_WINDOW * 1e9)
        async with asyncio.timeout(self._timeout):
            envs = await self.client.read(app_id, since, None, ["GAUGE"], METRICS_READ_LIMIT,
                                          descending=True, token=token)
        newest: dict[int, tuple[int, bytes]] = {}
        for env in envs:
            if not container_metric_names(env.gauge.metrics):
                continue
            for frame in self._encoder.convert([env]):
                v1 = v1_envelope_pb2.Envelope.FromString(frame)
                if v1.eventType != v1_envelope_pb2.Envelope.ContainerMetric:
                    continue
                index = v1.containerMetric.instanceIndex
                if index not in newest or newest[index][0] < env.timestamp:
                    newest[index] = (env.timestamp, frame)
        return [frame for _, frame in sorted(newest.values())]
