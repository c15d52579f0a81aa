"""Stack env: the environment variables each component of a local stack is started with.

Upstream's names throughout (../shared/DESIGN.md); each component presents its own certificate
(``<kind>.crt``) to its peers and for its metrics, and checks theirs against the stack's CA:

- router: ROUTER_PORT and ROUTER_{CA,CERT,KEY}_FILE.
- agent: AGENT_PORT, AGENT_INCOMING_UDP_PORT, AGENT_{CA,CERT,KEY}_FILE, ROUTER_ADDR (every router).
- rlp: RLP_PORT, RLP_{CA,CERT,KEY}_FILE, ROUTER_ADDRS.
- gateway: GATEWAY_ADDR over HTTPS with HTTP_{CERT,KEY}_PATH; LOGS_PROVIDER_ADDR (the rlp) over
  mTLS with LOGS_PROVIDER_{CA,CLIENT_CERT,CLIENT_KEY}_PATH; LGR_TOKENS_FILE.
- tc: TRAFFIC_CONTROLLER_OUTGOING_DROPSONDE_PORT (plain HTTP/WS on loopback), ROUTER_ADDRS with
  ROUTER_{CA,CERT,KEY}_FILE, AGENT_GRPC_ADDRESS (its own metrics and events go to the agent),
  LOG_CACHE_ADDR when the cache runs (recent logs and container metrics come from it),
  LGR_TOKENS_FILE.
- cache: ADDR (plain HTTP), LOGS_PROVIDER_ADDR (the rlp) with LOGS_PROVIDER_{CA,CERT,KEY}_FILE_PATH,
  LGR_CACHE_MEMORY_LIMIT, LGR_TOKENS_FILE; its gRPC API on LGR_CACHE_GRPC_ADDR over mTLS with
  {CA,CERT,KEY}_PATH.

Every component gets METRICS_PORT and its host. Variables that would change how a component
serves (its metrics certificates, TLS on the websocket or cache API, another log cache) are
removed from the environment the children inherit, so the addresses `lgr up` reports hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lgr.core.auth.options import TOKENS_FILE_ENV

if TYPE_CHECKING:
    from lgr.core.stack import StackConfig

KINDS = ("router", "agent", "rlp", "gateway", "tc", "cache")
GRPC_KINDS = ("router", "agent", "rlp")
# What each component's "<kind> <protocol> bound to: ADDR" log line names.
BOUND_PROTOCOL = {"router": "grpc", "agent": "grpc", "rlp": "grpc", "gateway": "http", "tc": "ws",
                  "cache": "http"}
# How clients reach the HTTP components: the scheme of the URL `lgr up` reports.
URL_SCHEME = {"gateway": "https", "tc": "ws", "cache": "http"}
METRICS_TLS_ENV = ("METRICS_CA_FILE_PATH", "METRICS_CERT_FILE_PATH", "METRICS_KEY_FILE_PATH")
UNSET_ENV = {
    "tc": ("TRAFFIC_CONTROLLER_OUTGOING_CERT_FILE", "TRAFFIC_CONTROLLER_OUTGOING_KEY_FILE",
           "LOG_CACHE_ADDR"),
    "cache": ("EXTERNAL_CERT", "EXTERNAL_KEY"),
}
_HOST_ENV = {"agent": "AGENT_HOST", "router": "LGR_ROUTER_HOST", "rlp": "LGR_RLP_HOST",
             "tc": "LGR_TC_HOST"}


@dataclass(frozen=True)
class Peers:
    """The addresses (host:port) a component is wired to; empty when that peer is not running."""

    routers: Sequence[str] = ()
    agent: str = ""
    rlp: str = ""
    cache: str = ""


def url_of(kind: str, address: str) -> str:
    """The URL clients use for an HTTP component at ``address``; "" for the gRPC ones."""
    scheme = URL_SCHEME.get(kind)
    return f"{scheme}://{address}" if scheme and address else ""


def port_env(kind: str, host: str, port: int) -> dict[str, str]:
    """The variables that choose where ``kind`` listens."""
    if kind == "gateway":
        return {"GATEWAY_ADDR": _join(host, port)}
    if kind == "cache":
        return {"ADDR": _join(host, port)}
    if kind == "tc":
        return {"TRAFFIC_CONTROLLER_OUTGOING_DROPSONDE_PORT": str(port), _HOST_ENV[kind]: host}
    return {f"{kind.upper()}_PORT": str(port), _HOST_ENV[kind]: host}


def cache_grpc_env(host: str, port: int) -> dict[str, str]:
    """The variable that chooses where the cache's gRPC API listens."""
    return {"LGR_CACHE_GRPC_ADDR": _join(host, port)}


def component_env(kind: str, config: StackConfig, port: int, metrics_port: int, peers: Peers,
                  udp_port: int = 0) -> dict[str, str]:
    """Every variable ``kind`` is started with (``config.extra_env`` applied last)."""
    ca, cert, key = config.cert_files(kind)
    env = {**port_env(kind, config.host, port), "METRICS_PORT": str(metrics_port)}
    if kind in GRPC_KINDS:
        prefix = kind.upper()
        env.update({f"{prefix}_CA_FILE": ca, f"{prefix}_CERT_FILE": cert, f"{prefix}_KEY_FILE": key})
    if kind == "agent":
        env["AGENT_INCOMING_UDP_PORT"] = str(udp_port)
        env["ROUTER_ADDR"] = ",".join(peers.routers)
    elif kind == "rlp":
        env["ROUTER_ADDRS"] = ",".join(peers.routers)
    elif kind == "gateway":
        env.update({
            "HTTP_CERT_PATH": cert, "HTTP_KEY_PATH": key, "LOGS_PROVIDER_ADDR": peers.rlp,
            "LOGS_PROVIDER_CA_PATH": ca, "LOGS_PROVIDER_CLIENT_CERT_PATH": cert,
            "LOGS_PROVIDER_CLIENT_KEY_PATH": key,
        })
    elif kind == "tc":
        env.update({
            "ROUTER_ADDRS": ",".join(peers.routers), "ROUTER_CA_FILE": ca, "ROUTER_CERT_FILE": cert,
            "ROUTER_KEY_FILE": key, "AGENT_GRPC_ADDRESS": peers.agent,
        })
        if peers.cache:
            env["LOG_CACHE_ADDR"] = peers.cache
    elif kind == "cache":
        env.update({
            "LOGS_PROVIDER_ADDR": peers.rlp, "LOGS_PROVIDER_CA_FILE_PATH": ca,
            "LOGS_PROVIDER_CERT_FILE_PATH": cert, "LOGS_PROVIDER_KEY_FILE_PATH": key,
            "LGR_CACHE_MEMORY_LIMIT": config.cache_memory_limit,
            **cache_grpc_env(config.host, config.cache_grpc_port),
            "CA_PATH": ca, "CERT_PATH": cert, "KEY_PATH": key,
        })
    if kind in ("gateway", "tc", "cache") and config.tokens_file is not None:
        env[TOKENS_FILE_ENV] = str(Path(config.tokens_file))
    env.update(config.extra_env.get(kind, {}))
    return env


def unset_env(kind: str) -> tuple[str, ...]:
    """The inherited variables removed from ``kind``'s environment."""
    return METRICS_TLS_ENV + UNSET_ENV.get(kind, ())


def _join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
