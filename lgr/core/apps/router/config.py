"""Router configuration: upstream router's environment variables, defaults and checks.

Names and defaults are upstream's (loggregator-release src/router/app/config.go). lgr
extensions: LGR_ROUTER_HOST (upstream listens on every interface; lgr on loopback unless told);
LGR_ROUTER_SUBSCRIBER_BUFFER_SIZE exposes the per-subscription buffer that upstream's v2 egress
hard-codes to 1000 (upstream's EGRESS_BUFFER_SIZE sizes only its v1 egress, which lgr does not
serve); METRICS_PORT (default 14825, upstream's router health port) with METRICS_*_PATH falling
back to the router's own certificates; METRICS_PORT=-1 turns the endpoint off.
"""

from __future__ import annotations

from dataclasses import dataclass

from lgr.core.config import check_port, setting


@dataclass(frozen=True)
class RouterConfig:
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
    metrics_port: int = setting("METRICS_PORT", 14825,
                                "Prometheus metrics HTTPS port (0: any free port, -1: off)")
    metrics_ca_file: str = setting("METRICS_CA_FILE_PATH", "",
                                   "CA for metrics clients (default: ROUTER_CA_FILE)")
    metrics_cert_file: str = setting("METRICS_CERT_FILE_PATH", "",
                                     "metrics server certificate (default: ROUTER_CERT_FILE)")
    metrics_key_file: str = setting("METRICS_KEY_FILE_PATH", "",
                                    "metrics server key (default: ROUTER_KEY_FILE)")

    @property
    def tls_env(self) -> tuple[str, str, str]:
        """The env vars of (ca, cert, key), for error messages."""
        return ("ROUTER_CA_FILE", "ROUTER_CERT_FILE", "ROUTER_KEY_FILE")

    @property
    def metrics_tls(self) -> tuple[str, str, str]:
        """(ca, cert, key) for the metrics endpoint, each defaulting to the router's own."""
        return (self.metrics_ca_file or self.ca_file, self.metrics_cert_file or self.cert_file,
                self.metrics_key_file or self.key_file)

    def validate(self) -> list[str]:
        """Every cross-field problem, named by env var."""
        problems = check_port("ROUTER_PORT", self.port)
        if self.metrics_port != -1:
            problems += check_port("METRICS_PORT", self.metrics_port)
        for env, size in (("INGRESS_BUFFER_SIZE", self.ingress_buffer_size),
                          ("LGR_ROUTER_SUBSCRIBER_BUFFER_SIZE", self.subscriber_buffer_size)):
            if size < 1:
                problems.append(f"{env}={size}: must be at least 1")
        if not self.host.strip():
            problems.append("LGR_ROUTER_HOST is empty: give an address to listen on")
        return problems
