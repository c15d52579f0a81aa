"""Shared component settings: the metrics endpoint fields, TLS file triples and address checks.

Every component's config declares the same METRICS_PORT and METRICS_{CA,CERT,KEY}_FILE_PATH
settings, differing only in the port's default and in which of its own files each falls back to;
several check ``host:port`` values or settings that must be given together. The helpers here
keep those declarations, messages and checks in one place::

    @dataclass(frozen=True)
    class RouterConfig(MetricsEndpoint, OwnTls):
        ca_file: str = setting("ROUTER_CA_FILE", "", "...")
        ...
        metrics_port: int = metrics_port_setting(14825)
        metrics_ca_file: str = metrics_file_setting(0, "ROUTER_CA_FILE")
        metrics_cert_file: str = metrics_file_setting(1, "ROUTER_CERT_FILE")
        metrics_key_file: str = metrics_file_setting(2, "ROUTER_KEY_FILE")

The mixins are plain classes (not dataclasses), so the fields keep their declared order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, ClassVar

from lgr.core.config import Duration, check_port, setting

METRICS_TLS_ENV = ("METRICS_CA_FILE_PATH", "METRICS_CERT_FILE_PATH", "METRICS_KEY_FILE_PATH")
METRICS_TLS_FIELDS = ("metrics_ca_file", "metrics_cert_file", "metrics_key_file")
OWN_TLS_FIELDS = ("ca_file", "cert_file", "key_file")
_METRICS_FILE_HELP = ("CA for metrics clients", "metrics server certificate", "metrics server key")


def metrics_port_setting(default: int, *, https: bool = True) -> Any:
    """The METRICS_PORT field with the component's default (-1 turns the endpoint off)."""
    kind = "HTTPS port" if https else "port"
    return setting("METRICS_PORT", default,
                   f"Prometheus metrics {kind} (0: any free port, -1: off)")


def metrics_file_setting(part: int, fallback_env: str) -> Any:
    """METRICS_CA/CERT/KEY_FILE_PATH (``part`` 0, 1, 2), defaulting to ``fallback_env``'s file."""
    return setting(METRICS_TLS_ENV[part], "",
                   f"{_METRICS_FILE_HELP[part]} (default: {fallback_env})")


DEFAULT_HEADER_TIMEOUT = 10.0
HEADER_TIMEOUTS_METRIC = "http_header_timeouts"


def header_timeout_setting(env: str) -> Any:
    """An HTTP server's bound on how long a client may take to send a request's headers
    (lgr.core.http_server)."""
    return setting(env, Duration(DEFAULT_HEADER_TIMEOUT),
                   "longest a client may take to send a request's headers; slower connections "
                   f"are closed and counted in {HEADER_TIMEOUTS_METRIC}")


def env_names(obj: Any, names: Iterable[str]) -> tuple[str, ...]:
    """The env vars of the config fields ``names`` of ``obj`` (a config class or instance)."""
    envs = {f.name: f.metadata.get("env") for f in dataclasses.fields(obj)}
    return tuple(envs[name] for name in names)


class OwnTls:
    """A config whose ``ca_file``, ``cert_file`` and ``key_file`` are its own mTLS files."""

    @property
    def tls_env(self) -> tuple[str, str, str]:
        """The env vars of (ca, cert, key), for error messages."""
        return env_names(self, OWN_TLS_FIELDS)  # type: ignore[return-value]


class MetricsEndpoint:
    """A config with the metrics_* fields; each file falls back to ``metrics_fallback``'s."""

    metrics_fallback: ClassVar[tuple[str, str, str]] = OWN_TLS_FIELDS
    metrics_port: int  # declared by the config dataclass

    @property
    def metrics_tls(self) -> tuple[str, str, str]:
        """(ca, cert, key) for the metrics endpoint, each defaulting to the component's own."""
        return tuple(  # type: ignore[return-value]
            getattr(self, own) or getattr(self, fallback)
            for own, fallback in zip(METRICS_TLS_FIELDS, self.metrics_fallback, strict=True)
        )

    @property
    def metrics_tls_env(self) -> tuple[str, str, str]:
        """The env vars that :attr:`metrics_tls` came from, for error messages."""
        fallback_env = env_names(self, self.metrics_fallback)
        return tuple(  # type: ignore[return-value]
            metrics if getattr(self, own) else other
            for metrics, other, own in zip(METRICS_TLS_ENV, fallback_env, METRICS_TLS_FIELDS,
                                           strict=True)
        )

    def metrics_problems(self) -> list[str]:
        """METRICS_PORT's problem, if any (-1, off, is fine)."""
        if self.metrics_port == -1:
            return []
        return check_port("METRICS_PORT", self.metrics_port)


def split_addr(addr: str) -> tuple[str, str]:
    """``host:port`` as (host without IPv6 brackets, port text); ("", "") without a colon."""
    host, sep, port = addr.strip().rpartition(":")
    if not sep:
        return "", ""
    return host.strip("[]"), port


def listen_addr_problems(env: str, addr: str) -> list[str]:
    """Problems of ``addr`` (named by ``env``) as host:port to listen on: host may be empty
    (every interface), port 0 asks for any free port."""
    port = split_addr(addr)[1]
    if not port.isdigit():
        return [f"{env}={addr!r}: not host:port"]
    return check_port(env, int(port))


def addr_problem(addr: str) -> str | None:
    """What is wrong with ``host:port`` as an address to dial (None: nothing)."""
    host, sep, port = addr.rpartition(":")
    if not sep or not host:
        return "is not host:port"
    if host.startswith("[") != host.endswith("]"):
        return "has an unbalanced IPv6 bracket"
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        return "needs a port between 1 and 65535"
    return None


def router_addrs_problems(addrs: Iterable[str]) -> list[str]:
    """A ROUTER_ADDRS problem line for every bad ``host:port``."""
    problems = []
    for addr in addrs:
        problem = addr_problem(addr)
        if problem:
            problems.append(f"ROUTER_ADDRS: {addr!r} {problem}")
    return problems


def together_problems(*pairs: tuple[str, str, str, str]) -> list[str]:
    """For each (env_a, value_a, env_b, value_b) set without the other: "A and B go together"."""
    return [f"{env_a} and {env_b} go together"
            for env_a, a, env_b, b in pairs if bool(a) != bool(b)]


def positive_problems(*items: tuple[str, float]) -> list[str]:
    """For each (env, value) that is not above 0: "ENV=value: must be positive"."""
    return [f"{env}={value}: must be positive" for env, value in items if value <= 0]


MIB = 1024 * 1024
# A byte bound below one envelope of the largest size a component takes would drop every such
# envelope; 1 MiB keeps ordinary ones and leaves the choice to the operator.
MIN_BUFFER_BYTES = MIB


def at_least_problems(*items: tuple[str, int, int]) -> list[str]:
    """For each (env, value, least) below ``least``: "ENV=value: must be at least N"."""
    return [f"{env}={value}: must be at least {least}" for env, value, least in items
            if value < least]
