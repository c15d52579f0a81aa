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

from lgr.core.config import ByteSize, check_port, setting
from lgr.core.settings import (
    MIB,
    MIN_BUFFER_BYTES,
    MetricsEndpoint,
    OwnTls,
    at_least_problems,
    metrics_file_setting,
    metrics_port_setting,
    router_addrs_problems,
)


@dataclass(frozen=True)
class RlpConfig(MetricsEndpoint, OwnTls):
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
    buffer_bytes: ByteSize = setting(
        "LGR_RLP_BUFFER_BYTES", ByteSize(64 * MIB),
        "bytes of envelopes buffered per consumer stream before its oldest are dropped")
    metric_source_id: str = setting(
        "RLP_METRIC_SOURCE_ID", "reverse_log_proxy",
        "source_id of the RLP's own envelopes (drop reports)")
    metrics_port: int = metrics_port_setting(14826)
    metrics_ca_file: str = metrics_file_setting(0, "RLP_CA_FILE")
    metrics_cert_file: str = metrics_file_setting(1, "RLP_CERT_FILE")
    metrics_key_file: str = metrics_file_setting(2, "RLP_KEY_FILE")

    def validate(self) -> list[str]:
        """Every cross-field problem, named by env var."""
        problems = check_port("RLP_PORT", self.port) + self.metrics_problems()
        problems += router_addrs_problems(self.router_addrs)
        problems += at_least_problems(("MAX_EGRESS_STREAMS", self.max_egress_streams, 1),
                                      ("LGR_RLP_BUFFER_SIZE", self.buffer_size, 1),
                                      ("LGR_RLP_BUFFER_BYTES", self.buffer_bytes, MIN_BUFFER_BYTES))
        if not self.host.strip():
            problems.append("LGR_RLP_HOST is empty: give an address to listen on")
        return problems
