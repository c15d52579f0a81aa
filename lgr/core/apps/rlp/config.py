"""RLP configuration: upstream reverse log proxy's environment variables, defaults and checks.

Names and defaults are upstream's (loggregator-release src/rlp/app/config.go), with these lgr
choices: RLP_PORT defaults to 8083, because upstream runs the RLP on its own VM (its job spec
uses 8082, the router's port) while lgr runs everything on one host; LGR_RLP_HOST (upstream
listens on every interface; lgr on loopback unless told); LGR_RLP_BUFFER_SIZE exposes the
per-consumer buffer that upstream hard-codes to 10000; METRICS_PORT (default 14826) with
METRICS_*_PATH falling back to the RLP's own certificates; METRICS_PORT=-1 turns it off.
"""

from __future__ import annotations

from dataclasses import dataclass

from lgr.core.config import check_port, setting


@dataclass(frozen=True)
class RlpConfig:
    """Settings of `lgr rlp start`; see each field's env var."""

    router_addrs: list[str] = setting(
        "ROUTER_ADDRS", [], "routers to read from, host:port,host:port,...", required=True)
    host: str = setting("LGR_RLP_HOST", "127.0.0.1", "address the gRPC server listens on")
    port: int = setting("RLP_PORT", 8083, "gRPC Egress port (0: any free port)")
    ca_file: str = setting("RLP_CA_FILE", "", "CA that signs consumers' and routers' certificates",
                           required=True)
    cert_file: str = setting(
        "RLP_CERT_FILE", "", "RLP certificate (server name reverselogproxy; also its client "
        "certificate towards routers)", required=True)
    key_file: str = setting("RLP_KEY_FILE", "", "RLP private key", required=True)
    max_egress_streams: int = setting(
        "MAX_EGRESS_STREAMS", 500, "consumer streams served at once; more get RESOURCE_EXHAUSTED")
    buffer_size: int = setting(
        "LGR_RLP_BUFFER_SIZE", 10000,
        "envelopes buffered per consumer stream before its oldest are dropped")
    metric_source_id: str = setting(
        "RLP_METRIC_SOURCE_ID", "reverse_log_proxy",
        "source_id of the RLP's own envelopes (drop reports)")
    metrics_port: int = setting("METRICS_PORT", 14826,
                                "Prometheus metrics HTTPS port (0: any free port, -1: off)")
    metrics_ca_file: str = setting("METRICS_CA_FILE_PATH", "",
                                   "CA for metrics clients (default: RLP_CA_FILE)")
    metrics_cert_file: str = setting("METRICS_CERT_FILE_PATH", "",
                                     "metrics server certificate (default: RLP_CERT_FILE)")
    metrics_key_file: str = setting("METRICS_KEY_FILE_PATH", "",
                                    "metrics server key (default: RLP_KEY_FILE)")

    @property
    def tls_env(self) -> tuple[str, str, str]:
        """The env vars of (ca, cert, key), for error messages."""
        return ("RLP_CA_FILE", "RLP_CERT_FILE", "RLP_KEY_FILE")

    @property
    def metrics_tls(self) -> tuple[str, str, str]:
        """(ca, cert, key) for the metrics endpoint, each defaulting to the RLP's own."""
        return (self.metrics_ca_file or self.ca_file, self.metrics_cert_file or self.cert_file,
                self.metrics_key_file or self.key_file)

    def validate(self) -> list[str]:
        """Every cross-field problem, named by env var."""
        problems = check_port("RLP_PORT", self.port)
        if self.metrics_port != -1:
            problems += check_port("METRICS_PORT", self.metrics_port)
        for addr in self.router_addrs:
            problem = _addr_problem(addr)
            if problem:
                problems.append(f"ROUTER_ADDRS: {addr!r} {problem}")
        if self.max_egress_streams < 1:
            problems.append(f"MAX_EGRESS_STREAMS={self.max_egress_streams}: must be at least 1")
        if self.buffer_size < 1:
            problems.append(f"LGR_RLP_BUFFER_SIZE={self.buffer_size}: must be at least 1")
        if not self.host.strip():
            problems.append("LGR_RLP_HOST is empty: give an address to listen on")
        return problems


def _addr_problem(addr: str) -> str | None:
    host, sep, port = addr.rpartition(":")
    if not sep or not host:
        return "is not host:port"
    if host.startswith("[") != host.endswith("]"):
        return "has an unbalanced IPv6 bracket"
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        return "needs a port between 1 and 65535"
    return None
