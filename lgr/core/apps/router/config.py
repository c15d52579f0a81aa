"""Router configuration: upstream router's environment variables, defaults and checks.

Names and defaults are upstream's (loggregator-release src/router/app/config.go). lgr
extensions: LGR_ROUTER_HOST (upstream listens on every interface; lgr on loopback unless told);
LGR_ROUTER_SUBSCRIBER_BUFFER_SIZE exposes the per-subscription buffer that upstream's v2 egress
hard-codes to 1000 (upstream's EGRESS_BUFFER_SIZE sizes only its v1 egress, as here);
METRICS_PORT (default 14825, upstream's router health port) with METRICS_*_PATH falling back
to the router's own certificates; METRICS_PORT=-1 turns the endpoint off.
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
)


@dataclass(frozen=True)
class RouterConfig(MetricsEndpoint, OwnTls):
    """Settings of `lgr router start`; see each field's env var."""

    host: str = setting("LGR_ROUTER_HOST", "127.0.0.1", "address the gRPC server listens on")
    port: int = setting("ROUTER_PORT", 8082, "gRPC port for Ingress and Egress (0: any free port)")
    ca_file: str = setting("ROUTER_CA_FILE", "", "CA that signs agents' and RLPs' certificates",
                           required=True)
    cert_file: str = setting("ROUTER_CERT_FILE", "",
                             "router certificate (server name doppler)", required=True)
    key_file: str = setting("ROUTER_KEY_FILE", "", "router private key", required=True)
    ingress_buffer_size: int = setting(
        "INGRESS_BUFFER_SIZE", 10000, "envelopes buffered from agents before the oldest are dropped"
    )
    subscriber_buffer_size: int = setting(
        "LGR_ROUTER_SUBSCRIBER_BUFFER_SIZE", 1000,
        "envelopes buffered per subscription before its oldest are dropped",
    )
    egress_buffer_size: int = setting(
        "EGRESS_BUFFER_SIZE", 1000,
        "envelopes buffered per v1 (Doppler) subscription before its oldest are dropped",
    )
    ingress_buffer_bytes: ByteSize = setting(
        "LGR_ROUTER_INGRESS_BUFFER_BYTES", ByteSize(256 * MIB),
        "bytes of envelopes buffered from agents before the oldest are dropped, e.g. 64MiB")
    subscriber_buffer_bytes: ByteSize = setting(
        "LGR_ROUTER_SUBSCRIBER_BUFFER_BYTES", ByteSize(64 * MIB),
        "bytes of envelopes buffered per subscription before its oldest are dropped")
    metrics_port: int = metrics_port_setting(14825)
    metrics_ca_file: str = metrics_file_setting(0, "ROUTER_CA_FILE")
    metrics_cert_file: str = metrics_file_setting(1, "ROUTER_CERT_FILE")
    metrics_key_file: str = metrics_file_setting(2, "ROUTER_KEY_FILE")

    def validate(self) -> list[str]:
        """Every cross-field problem, named by env var."""
        problems = check_port("ROUTER_PORT", self.port) + self.metrics_problems()
        problems += at_least_problems(
            ("INGRESS_BUFFER_SIZE", self.ingress_buffer_size, 1),
            ("LGR_ROUTER_SUBSCRIBER_BUFFER_SIZE", self.subscriber_buffer_size, 1),
            ("EGRESS_BUFFER_SIZE", self.egress_buffer_size, 1),
            ("LGR_ROUTER_INGRESS_BUFFER_BYTES", self.ingress_buffer_bytes, MIN_BUFFER_BYTES),
            ("LGR_ROUTER_SUBSCRIBER_BUFFER_BYTES", self.subscriber_buffer_bytes, MIN_BUFFER_BYTES))
        if not self.host.strip():
            problems.append("LGR_ROUTER_HOST is empty: give an address to listen on")
        return problems
