"""Agent configuration: upstream loggregator-agent's environment variables, defaults and checks.

Names and defaults are upstream's (src/cmd/loggregator-agent/app/config.go). lgr extensions:
ROUTER_ADDR may list several ``host:port`` separated by commas (several local routers);
METRICS_*_PATH fall back to the agent's own certificates when unset; METRICS_PORT=-1 turns the
metrics endpoint off; LGR_AGENT_METRICS_HOST (default 127.0.0.1; upstream listens on all
interfaces) picks its address; LGR_AGENT_INGRESS_BUFFER_SIZE and LGR_AGENT_EGRESS_STREAMS expose
what upstream hard-codes (10000 and 5). AGENT_ZONE is accepted and, as upstream, unused.
AGENT_HOST is honoured (upstream declares it but always binds 127.0.0.1; the default is the same).
"""

from __future__ import annotations

from dataclasses import dataclass

from lgr.core.config import ByteSize, check_port, setting
from lgr.core.settings import (
    MIB,
    MIN_BUFFER_BYTES,
    MetricsEndpoint,
    at_least_problems,
    metrics_file_setting,
    metrics_port_setting,
)

AGENT_TLS_ENV = ("AGENT_CA_FILE", "AGENT_CERT_FILE", "AGENT_KEY_FILE")
BATCH_SIZE = 100
BATCH_INTERVAL = 0.1  # seconds; upstream's transponder flushes every 100 ms


@dataclass(frozen=True)
class AgentConfig(MetricsEndpoint):
    """Settings of `lgr agent start`; see each field's env var."""

    router_addr: str = setting(
        "ROUTER_ADDR", "", "router address host:port (all its DNS A records are used); "
        "lgr also takes a comma-separated list", required=True,
    )
    router_addr_with_az: str = setting(
        "ROUTER_ADDR_WITH_AZ", "", "routers in this agent's availability zone, preferred when set"
    )
    ca_file: str = setting("AGENT_CA_FILE", "", "CA that signs routers' and clients' certificates",
                           required=True)
    cert_file: str = setting("AGENT_CERT_FILE", "", "agent certificate (server and client)",
                             required=True)
    key_file: str = setting("AGENT_KEY_FILE", "", "agent private key", required=True)
    host: str = setting("AGENT_HOST", "127.0.0.1", "address the v2 gRPC ingress listens on")
    port: int = setting("AGENT_PORT", 3458, "v2 gRPC ingress port (0: any free port)")
    udp_port: int = setting("AGENT_INCOMING_UDP_PORT", 3457,
                            "v1 dropsonde UDP port on 127.0.0.1 (0: any free port)")
    disable_udp: bool = setting("AGENT_DISABLE_UDP", False, "do not listen for v1 UDP")
    tags: dict[str, str] = setting(
        "AGENT_TAGS", {}, "tags k:v,... added to every v2 envelope that lacks them (not v1)"
    )
    deployment: str = setting("AGENT_DEPLOYMENT", "", "deployment of v1 envelopes that have none")
    job: str = setting("AGENT_JOB", "", "job of v1 envelopes that have none")
    index: str = setting("AGENT_INDEX", "", "index of v1 envelopes that have none")
    ip: str = setting("AGENT_IP", "", "ip of v1 envelopes that have none")
    zone: str = setting("AGENT_ZONE", "", "availability zone (accepted; unused, as upstream)")
    logs_disabled: bool = setting("LOGS_DISABLED", False, "drop log envelopes, forward the rest")
    metrics_port: int = metrics_port_setting(14824)
    metrics_host: str = setting("LGR_AGENT_METRICS_HOST", "127.0.0.1",
                                "address the metrics endpoint listens on (upstream: all interfaces)")
    metrics_ca_file: str = metrics_file_setting(0, "AGENT_CA_FILE")
    metrics_cert_file: str = metrics_file_setting(1, "AGENT_CERT_FILE")
    metrics_key_file: str = metrics_file_setting(2, "AGENT_KEY_FILE")
    metric_source_id: str = setting("AGENT_METRIC_SOURCE_ID", "metron",
                                    "source_id of the agent's own metric envelopes")
    metric_batch_interval_ms: int = setting(
        "AGENT_METRIC_BATCH_INTERVAL_MILLISECONDS", 60000,
        "how often the agent emits its own metrics as envelopes (ms)",
    )
    ingress_buffer_size: int = setting("LGR_AGENT_INGRESS_BUFFER_SIZE", 10000,
                                       "envelopes buffered before the oldest are dropped")
    ingress_buffer_bytes: ByteSize = setting(
        "LGR_AGENT_INGRESS_BUFFER_BYTES", ByteSize(256 * MIB),
        "bytes of envelopes buffered before the oldest are dropped, e.g. 64MiB")
    egress_streams: int = setting("LGR_AGENT_EGRESS_STREAMS", 5,
                                  "BatchSender streams kept open to the routers")
    @property
    def routers(self) -> list[tuple[str, int]]:
        """ROUTER_ADDR as (host, port) pairs."""
        return _parse_addrs(self.router_addr)[0]

    @property
    def routers_with_az(self) -> list[tuple[str, int]]:
        """ROUTER_ADDR_WITH_AZ as (host, port) pairs, normalized as upstream does."""
        return _parse_addrs(_normalize_az(self.router_addr_with_az))[0]

    def validate(self) -> list[str]:
        """Every cross-field problem, named by env var."""
        problems = check_port("AGENT_PORT", self.port) + check_port(
            "AGENT_INCOMING_UDP_PORT", self.udp_port
        )
        problems += self.metrics_problems()
        for env, text in (("ROUTER_ADDR", self.router_addr),
                          ("ROUTER_ADDR_WITH_AZ", _normalize_az(self.router_addr_with_az))):
            problems += [f"{env}={text!r}: {p}" for p in _parse_addrs(text)[1]]
        if self.metric_batch_interval_ms <= 0:
            problems.append(
                f"AGENT_METRIC_BATCH_INTERVAL_MILLISECONDS={self.metric_batch_interval_ms}: "
                "must be a positive number of milliseconds"
            )
        problems += at_least_problems(
            ("LGR_AGENT_INGRESS_BUFFER_SIZE", self.ingress_buffer_size, 1),
            ("LGR_AGENT_INGRESS_BUFFER_BYTES", self.ingress_buffer_bytes, MIN_BUFFER_BYTES),
            ("LGR_AGENT_EGRESS_STREAMS", self.egress_streams, 1))
        return problems


def _normalize_az(text: str) -> str:
    # Upstream runs the value through idna.ToASCII and turns "@" into "-" (BOSH AZ link names).
    out = []
    for item in text.split(","):
        host, sep, port = item.strip().rpartition(":")
        if not host.isascii():
            try:
                host = host.encode("idna").decode("ascii")
            except UnicodeError:
                pass  # validate() reports what cannot be used
        out.append(f"{host}{sep}{port}".replace("@", "-") if sep else item.strip().replace("@", "-"))
    return ",".join(x for x in out if x)


def _parse_addrs(text: str) -> tuple[list[tuple[str, int]], list[str]]:
    """Parse ``host:port[,host:port...]`` (IPv6 hosts in brackets) into pairs and problems."""
    addrs: list[tuple[str, int]] = []
    problems: list[str] = []
    for item in (x.strip() for x in text.split(",")):
        if not item:
            continue
        host, sep, port_text = item.rpartition(":")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if not sep or not host or not port_text.isdigit():
            problems.append(f"{item!r} is not host:port")
            continue
        port = int(port_text)
        if not 0 < port <= 65535:
            problems.append(f"{item!r}: port must be between 1 and 65535")
            continue
        addrs.append((host, port))
    return addrs, problems
