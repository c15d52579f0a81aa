"""Log cache configuration: upstream log-cache's environment variables, defaults and checks.

One `lgr cache start` process does what upstream runs as four (log-cache-release ``src/cmd``):
the store (``log-cache``: ADDR, MAX_PER_SOURCE 100000, MEMORY_LIMIT_PERCENT 50,
MEMORY_LIMIT_BYTES, QUERY_TIMEOUT 10s, METRICS_PORT 6060), the ``nozzle`` that fills it from
the reverse log proxy (LOGS_PROVIDER_ADDR over mTLS with LOGS_PROVIDER_{CA,CERT,KEY}_FILE_PATH,
SHARD_ID "log-cache", SELECTORS), the HTTP ``gateway`` and the ``cf-auth-proxy`` in front of it
(EXTERNAL_CERT / EXTERNAL_KEY for HTTPS; UAA_* and CAPI_* for upstream's authorization).

lgr differences: ADDR (default 127.0.0.1:8080) is the HTTP API itself, upstream's port for the
store's gRPC; without EXTERNAL_CERT it serves plain HTTP. The store's gRPC API (upstream's
logcache.v1 Egress, Ingress and PromQLQuerier, for upstream's gateway, syslog server and Go
clients) listens on LGR_CACHE_GRPC_ADDR when it is set, over mTLS with upstream's CA_PATH,
CERT_PATH and KEY_PATH; clients check its certificate as "log-cache". LGR_CACHE_MEMORY_LIMIT caps
the bytes of envelopes held (e.g. ``512MiB``) and overrides the other two memory settings, which bound
the same accounted bytes by a share of MEMORY_LIMIT_BYTES or of the machine's memory (upstream
measures its Go heap). Without UAA_ADDR, tokens come from LGR_TOKENS_FILE (lgr.core.auth);
LGR_CACHE_DISABLE_ACCESS_CONTROL lets every request read everything. Without LOGS_PROVIDER_ADDR
the cache runs without a nozzle. The metrics endpoint uses METRICS_*_FILE_PATH, else the
LOGS_PROVIDER_* files, else plain HTTP on loopback.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lgr.core.auth.options import DEFAULT_CACHE_TTL, TOKENS_FILE_ENV, AuthOptions
from lgr.core.config import Duration, parse_size, setting
from lgr.core.envelope import KINDS
from lgr.core.settings import (
    MetricsEndpoint,
    header_timeout_setting,
    listen_addr_problems,
    metrics_file_setting,
    metrics_port_setting,
    split_addr,
    together_problems,
)

DEFAULT_ADDR = "127.0.0.1:8080"
RLP_COMMON_NAME = "reverselogproxy"
PROVIDER_TLS_ENV = ("LOGS_PROVIDER_CA_FILE_PATH", "LOGS_PROVIDER_CERT_FILE_PATH",
                    "LOGS_PROVIDER_KEY_FILE_PATH")
GRPC_TLS_ENV = ("CA_PATH", "CERT_PATH", "KEY_PATH")

# AuthOptions field -> the cache's env var, for problems and help.
AUTH_ENV = {
    "tokens_file": TOKENS_FILE_ENV,
    "uaa_addr": "UAA_ADDR",
    "uaa_client_id": "UAA_CLIENT_ID",
    "uaa_client_secret": "UAA_CLIENT_SECRET",
    "uaa_ca_path": "UAA_CA_PATH",
    "capi_addr": "CAPI_ADDR",
    "capi_ca_path": "CAPI_CA_PATH",
    "capi_server_name": "CAPI_COMMON_NAME",
    "skip_cert_verify": "SKIP_CERT_VERIFY",
    "cache_ttl": "CACHE_EXPIRATION_INTERVAL",
    "disabled": "LGR_CACHE_DISABLE_ACCESS_CONTROL",
}


def system_memory() -> int:
    """The machine's physical memory in bytes (0 when unknown)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


@dataclass(frozen=True)
class CacheConfig(MetricsEndpoint):
    """Settings of `lgr cache start`; see each field's env var."""

    metrics_fallback = ("logs_provider_ca_file", "logs_provider_cert_file",
                        "logs_provider_key_file")

    addr: str = setting("ADDR", DEFAULT_ADDR, "host:port of the HTTP API (port 0: any free port)")
    grpc_addr: str = setting(
        "LGR_CACHE_GRPC_ADDR", "", "host:port of upstream's gRPC API (Egress, Ingress, PromQLQuerier) "
        "over mTLS with CA_PATH, CERT_PATH and KEY_PATH (empty: off; port 0: any free port)")
    ca_path: str = setting(GRPC_TLS_ENV[0], "", "CA that signs the gRPC API's clients")
    cert_path: str = setting(GRPC_TLS_ENV[1], "",
                             "the gRPC API's certificate (clients check it as \"log-cache\")")
    key_path: str = setting(GRPC_TLS_ENV[2], "", "its private key")
    max_per_source: int = setting("MAX_PER_SOURCE", 100_000,
                                  "envelopes kept per source id; the oldest go first")
    memory_limit_percent: float = setting(
        "MEMORY_LIMIT_PERCENT", 50.0,
        "share of MEMORY_LIMIT_BYTES (else of the machine's memory) envelopes may take")
    memory_limit_bytes: int = setting("MEMORY_LIMIT_BYTES", 0,
                                      "memory MEMORY_LIMIT_PERCENT is a share of (0: the machine's)")
    memory_limit: int = setting("LGR_CACHE_MEMORY_LIMIT", 0,
                                "cap on the bytes of envelopes held, e.g. 512MiB; overrides the two above",
                                parse=parse_size)
    query_timeout: Duration = setting("QUERY_TIMEOUT", Duration(10.0),
                                      "longest a PromQL query may run")
    header_timeout: Duration = header_timeout_setting("LGR_CACHE_HEADER_TIMEOUT")
    logs_provider_addr: str = setting("LOGS_PROVIDER_ADDR", "",
                                      "reverse log proxy to fill from, host:port (empty: no nozzle)")
    logs_provider_ca_file: str = setting(PROVIDER_TLS_ENV[0], "",
                                         "CA that signs the reverse log proxy's certificate")
    logs_provider_cert_file: str = setting(PROVIDER_TLS_ENV[1], "",
                                           "client certificate towards the reverse log proxy")
    logs_provider_key_file: str = setting(PROVIDER_TLS_ENV[2], "", "its private key")
    logs_provider_common_name: str = setting(
        "LOGS_PROVIDER_COMMON_NAME", RLP_COMMON_NAME, "name the reverse log proxy's certificate carries")
    shard_id: str = setting("SHARD_ID", "log-cache",
                            "nozzle's shard id: caches with the same id split the firehose")
    selectors: list[str] = setting("SELECTORS", list(KINDS), "envelope types the nozzle reads")
    external_cert: str = setting("EXTERNAL_CERT", "", "HTTPS certificate (empty: plain HTTP)")
    external_key: str = setting("EXTERNAL_KEY", "", "HTTPS private key")
    tokens_file: str = setting(
        TOKENS_FILE_ENV, "", "tokens file granting admin or per-source reads, used when UAA_ADDR "
        "is unset (default: tokens.json in lgr's state dir)")
    uaa_addr: str = setting("UAA_ADDR", "", "UAA base URL; set it to check tokens with UAA and CAPI")
    uaa_client_id: str = setting("UAA_CLIENT_ID", "", "UAA client for check_token")
    uaa_client_secret: str = setting("UAA_CLIENT_SECRET", "", "that client's secret", secret=True)
    uaa_ca_path: str = setting("UAA_CA_PATH", "", "CA of UAA's certificate")
    capi_addr: str = setting("CAPI_ADDR", "", "Cloud Controller URL (log_access checks)")
    capi_ca_path: str = setting("CAPI_CA_PATH", "", "CA of Cloud Controller")
    capi_common_name: str = setting("CAPI_COMMON_NAME", "",
                                    "name Cloud Controller's certificate carries")
    skip_cert_verify: bool = setting("SKIP_CERT_VERIFY", False,
                                     "do not verify UAA's and Cloud Controller's certificates")
    cache_expiration_interval: Duration = setting(
        "CACHE_EXPIRATION_INTERVAL", Duration(DEFAULT_CACHE_TTL),
        "how long UAA/CAPI answers that grant access are reused")
    disable_access_control: bool = setting("LGR_CACHE_DISABLE_ACCESS_CONTROL", False,
                                           "let every request read everything")
    metrics_port: int = metrics_port_setting(6060, https=False)
    metrics_ca_file: str = metrics_file_setting(0, PROVIDER_TLS_ENV[0])
    metrics_cert_file: str = metrics_file_setting(1, PROVIDER_TLS_ENV[1])
    metrics_key_file: str = metrics_file_setting(2, PROVIDER_TLS_ENV[2])

    @property
    def host(self) -> str:
        """The host part of ADDR (every interface when empty, as upstream's ``:8080``)."""
        return split_addr(self.addr)[0] or "0.0.0.0"

    @property
    def port(self) -> int:
        """The port part of ADDR."""
        return int(split_addr(self.addr)[1])

    @property
    def grpc_host_port(self) -> tuple[str, int]:
        """LGR_CACHE_GRPC_ADDR's host (every interface when empty) and port."""
        host, port = split_addr(self.grpc_addr)
        return host or "0.0.0.0", int(port)

    @property
    def grpc_tls(self) -> tuple[str, str, str]:
        """(ca, cert, key) of the gRPC API."""
        return self.ca_path, self.cert_path, self.key_path

    @property
    def provider_tls(self) -> tuple[str, str, str]:
        """(ca, cert, key) towards the reverse log proxy."""
        return self.logs_provider_ca_file, self.logs_provider_cert_file, self.logs_provider_key_file

    @property
    def metrics_tls(self) -> tuple[str, str, str] | None:  # type: ignore[override]
        """(ca, cert, key) of the metrics endpoint, or None for plain HTTP on loopback."""
        files = super().metrics_tls
        return files if all(files) else None

    def memory_cap(self, total_memory: int | None = None) -> int:
        """Bytes of envelopes the store may hold (0: no cap)."""
        if self.memory_limit:
            return self.memory_limit
        total = self.memory_limit_bytes or (system_memory() if total_memory is None else total_memory)
        return int(total * self.memory_limit_percent / 100)

    def auth_options(self) -> AuthOptions:
        """The authorization settings as lgr.core.auth takes them."""
        return AuthOptions(
            tokens_file=Path(self.tokens_file).expanduser() if self.tokens_file else None,
            uaa_addr=self.uaa_addr,
            uaa_client_id=self.uaa_client_id,
            uaa_client_secret=self.uaa_client_secret,
            uaa_ca_path=self.uaa_ca_path,
            capi_addr=self.capi_addr,
            capi_ca_path=self.capi_ca_path,
            capi_server_name=self.capi_common_name,
            skip_cert_verify=self.skip_cert_verify,
            cache_ttl=float(self.cache_expiration_interval),
            disabled=self.disable_access_control,
        )

    def validate(self) -> list[str]:
        """Every cross-field problem, named by env var."""
        problems = listen_addr_problems("ADDR", self.addr)
        if self.grpc_addr:
            problems += listen_addr_problems("LGR_CACHE_GRPC_ADDR", self.grpc_addr)
            for env, value in zip(GRPC_TLS_ENV, self.grpc_tls):
                if not value:
                    problems.append(f"{env} is required when LGR_CACHE_GRPC_ADDR is set")
        if self.max_per_source < 1:
            problems.append(f"MAX_PER_SOURCE={self.max_per_source}: must be at least 1")
        if not 0 < self.memory_limit_percent <= 100:
            problems.append(f"MEMORY_LIMIT_PERCENT={self.memory_limit_percent:g}: must be in (0, 100]")
        for env, value in (("MEMORY_LIMIT_BYTES", self.memory_limit_bytes),
                           ("LGR_CACHE_MEMORY_LIMIT", self.memory_limit)):
            if value < 0:
                problems.append(f"{env}={value}: must not be negative")
        for env, value in (("QUERY_TIMEOUT", self.query_timeout),
                           ("LGR_CACHE_HEADER_TIMEOUT", self.header_timeout)):
            if value <= 0:
                problems.append(f"{env}={value}: must be positive")
        if self.logs_provider_addr:
            phost, pport = split_addr(self.logs_provider_addr)
            if not phost or not pport.isdigit() or not 1 <= int(pport) <= 65535:
                problems.append(f"LOGS_PROVIDER_ADDR={self.logs_provider_addr!r}: not host:port")
            for env, value in zip(PROVIDER_TLS_ENV, self.provider_tls):
                if not value:
                    problems.append(f"{env} is required when LOGS_PROVIDER_ADDR is set")
        unknown = [s for s in self.selectors if s not in KINDS]
        if unknown or not self.selectors:
            problems.append(f"SELECTORS={','.join(self.selectors)!r}: use some of {','.join(KINDS)}")
        problems += together_problems(("EXTERNAL_CERT", self.external_cert,
                                       "EXTERNAL_KEY", self.external_key))
        problems += self.metrics_problems()
        problems += self.auth_options().validate(AUTH_ENV)
        return problems
