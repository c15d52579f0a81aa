"""RLP gateway configuration: upstream rlp-gateway's environment variables, defaults and checks.

Names and defaults are upstream's (loggregator-release src/rlp-gateway/app/config.go):
GATEWAY_ADDR (127.0.0.1:8088) serves HTTPS with HTTP_CERT_PATH / HTTP_KEY_PATH (a server
certificate only: upstream does not ask clients for one); LOGS_PROVIDER_ADDR is the reverse log
proxy, dialled over mTLS with LOGS_PROVIDER_{CA,CLIENT_CERT,CLIENT_KEY}_PATH and checked as
LOGS_PROVIDER_COMMON_NAME ("reverselogproxy"); STREAM_TIMEOUT (14m) ends each stream with an
``event: closing``; LOG_ADMIN_* (UAA) and LOG_ACCESS_* (Cloud Controller) choose upstream's
authorization.

lgr differences: the UAA and CAPI settings are optional, and without LOG_ADMIN_ADDR tokens come
from LGR_TOKENS_FILE (see lgr.core.auth); LGR_GATEWAY_HEARTBEAT (upstream hard-codes 15s) and
LGR_GATEWAY_AUTH_CACHE_TTL expose fixed values; METRICS_PORT defaults to 14827 (-1: off), over
mTLS with METRICS_*_PATH falling back to LOGS_PROVIDER_CA_PATH and the HTTP certificate.
LGR_GATEWAY_MAX_STREAMS (400) and LGR_GATEWAY_MAX_STREAMS_PER_TOKEN (50) cap open /v2/read
streams, which upstream leaves unbounded: each takes one of the RLP's MAX_EGRESS_STREAMS (500)
slots, and one client must not be able to take them all (README, Differences from upstream).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lgr.core.auth.options import DEFAULT_CACHE_TTL, TOKENS_FILE_ENV, AuthOptions
from lgr.core.config import Duration, check_port, setting
from lgr.core.settings import (
    MetricsEndpoint,
    at_least_problems,
    env_names,
    header_timeout_setting,
    metrics_file_setting,
    metrics_port_setting,
    positive_problems,
    split_addr,
)

RLP_COMMON_NAME = "reverselogproxy"

# AuthOptions field -> the gateway's env var, for problems and help.
AUTH_ENV = {
    "tokens_file": TOKENS_FILE_ENV,
    "uaa_addr": "LOG_ADMIN_ADDR",
    "uaa_client_id": "LOG_ADMIN_CLIENT_ID",
    "uaa_client_secret": "LOG_ADMIN_CLIENT_SECRET",
    "uaa_ca_path": "LOG_ADMIN_CA_PATH",
    "capi_addr": "LOG_ACCESS_ADDR",
    "capi_external_addr": "LOG_ACCESS_ADDR_EXTERNAL",
    "capi_ca_path": "LOG_ACCESS_CA_PATH",
    "capi_cert_path": "LOG_ACCESS_CERT_PATH",
    "capi_key_path": "LOG_ACCESS_KEY_PATH",
    "capi_server_name": "LOG_ACCESS_COMMON_NAME",
    "skip_cert_verify": "SKIP_CERT_VERIFY",
    "cache_ttl": "LGR_GATEWAY_AUTH_CACHE_TTL",
}


@dataclass(frozen=True)
class GatewayConfig(MetricsEndpoint):
    """Settings of `lgr gateway start`; see each field's env var."""

    metrics_fallback = ("logs_provider_ca_path", "http_cert_path", "http_key_path")

    gateway_addr: str = setting("GATEWAY_ADDR", "127.0.0.1:8088",
                                "host:port of the HTTPS server (port 0: any free port)")
    http_cert_path: str = setting("HTTP_CERT_PATH", "", "HTTPS server certificate",
                                  required=True)
    http_key_path: str = setting("HTTP_KEY_PATH", "", "HTTPS server private key", required=True)
    logs_provider_addr: str = setting("LOGS_PROVIDER_ADDR", "",
                                      "reverse log proxy to read from, host:port", required=True)
    logs_provider_ca_path: str = setting("LOGS_PROVIDER_CA_PATH", "",
                                         "CA that signs the reverse log proxy's certificate",
                                         required=True)
    logs_provider_client_cert_path: str = setting(
        "LOGS_PROVIDER_CLIENT_CERT_PATH", "", "client certificate towards the reverse log proxy",
        required=True)
    logs_provider_client_key_path: str = setting(
        "LOGS_PROVIDER_CLIENT_KEY_PATH", "", "its private key", required=True)
    logs_provider_common_name: str = setting(
        "LOGS_PROVIDER_COMMON_NAME", RLP_COMMON_NAME,
        "name the reverse log proxy's certificate must carry")
    stream_timeout: Duration = setting("STREAM_TIMEOUT", Duration(14 * 60),
                                       "each stream ends with `event: closing` after this")
    heartbeat: Duration = setting("LGR_GATEWAY_HEARTBEAT", Duration(15.0),
                                  "`event: heartbeat` after this long without a batch")
    header_timeout: Duration = header_timeout_setting("LGR_GATEWAY_HEADER_TIMEOUT")
    tokens_file: str = setting(
        TOKENS_FILE_ENV, "", "tokens file granting admin or per-source reads, used when "
        "LOG_ADMIN_ADDR is unset (default: tokens.json in lgr's state dir)")
    log_admin_addr: str = setting("LOG_ADMIN_ADDR", "",
                                  "UAA base URL; set it to check tokens with UAA and CAPI")
    log_admin_client_id: str = setting("LOG_ADMIN_CLIENT_ID", "", "UAA client for check_token")
    log_admin_client_secret: str = setting("LOG_ADMIN_CLIENT_SECRET", "",
                                           "that client's secret", secret=True)
    log_admin_ca_path: str = setting("LOG_ADMIN_CA_PATH", "", "CA of UAA's certificate")
    log_access_addr: str = setting("LOG_ACCESS_ADDR", "",
                                   "Cloud Controller internal API URL (log_access checks)")
    log_access_addr_external: str = setting(
        "LOG_ACCESS_ADDR_EXTERNAL", "", "Cloud Controller external API URL (service instances)")
    log_access_ca_path: str = setting("LOG_ACCESS_CA_PATH", "", "CA of Cloud Controller")
    log_access_cert_path: str = setting("LOG_ACCESS_CERT_PATH", "",
                                        "client certificate towards Cloud Controller")
    log_access_key_path: str = setting("LOG_ACCESS_KEY_PATH", "", "its private key")
    log_access_common_name: str = setting("LOG_ACCESS_COMMON_NAME", "",
                                          "name Cloud Controller's certificate must carry")
    skip_cert_verify: bool = setting("SKIP_CERT_VERIFY", False,
                                     "do not verify UAA's and Cloud Controller's certificates")
    auth_cache_ttl: Duration = setting(
        "LGR_GATEWAY_AUTH_CACHE_TTL", Duration(DEFAULT_CACHE_TTL),
        "how long UAA/CAPI answers that grant access are reused (0: never)")
    max_streams: int = setting(
        "LGR_GATEWAY_MAX_STREAMS", 400,
        "open /v2/read streams in all; more get 429 (keep it below the RLP's MAX_EGRESS_STREAMS "
        "so other consumers keep a slot)")
    max_streams_per_token: int = setting(
        "LGR_GATEWAY_MAX_STREAMS_PER_TOKEN", 50,
        "open /v2/read streams per token; more get 429")
    metrics_port: int = metrics_port_setting(14827)
    metrics_ca_file: str = metrics_file_setting(0, "LOGS_PROVIDER_CA_PATH")
    metrics_cert_file: str = metrics_file_setting(1, "HTTP_CERT_PATH")
    metrics_key_file: str = metrics_file_setting(2, "HTTP_KEY_PATH")

    @property
    def host(self) -> str:
        """The host part of GATEWAY_ADDR."""
        return split_addr(self.gateway_addr)[0]

    @property
    def port(self) -> int:
        """The port part of GATEWAY_ADDR."""
        return int(split_addr(self.gateway_addr)[1])

    @property
    def provider_tls_env(self) -> tuple[str, str, str]:
        """The env vars of the logs provider's (ca, cert, key), for error messages."""
        return env_names(self, ("logs_provider_ca_path", "logs_provider_client_cert_path",
                                "logs_provider_client_key_path"))  # type: ignore[return-value]

    def auth_options(self) -> AuthOptions:
        """The authorization settings as lgr.core.auth takes them."""
        return AuthOptions(
            tokens_file=Path(self.tokens_file).expanduser() if self.tokens_file else None,
            uaa_addr=self.log_admin_addr,
            uaa_client_id=self.log_admin_client_id,
            uaa_client_secret=self.log_admin_client_secret,
            uaa_ca_path=self.log_admin_ca_path,
            capi_addr=self.log_access_addr,
            capi_external_addr=self.log_access_addr_external,
            capi_ca_path=self.log_access_ca_path,
            capi_cert_path=self.log_access_cert_path,
            capi_key_path=self.log_access_key_path,
            capi_server_name=self.log_access_common_name,
            skip_cert_verify=self.skip_cert_verify,
            cache_ttl=float(self.auth_cache_ttl),
        )

    def validate(self) -> list[str]:
        """Every cross-field problem, named by env var."""
        problems: list[str] = []
        for env, addr in (("GATEWAY_ADDR", self.gateway_addr),
                          ("LOGS_PROVIDER_ADDR", self.logs_provider_addr)):
            host, port = split_addr(addr)
            if not host or not port.isdigit():
                problems.append(f"{env}={addr!r}: not host:port")
            elif env == "GATEWAY_ADDR":
                problems += check_port(env, int(port))
            elif not 1 <= int(port) <= 65535:
                problems.append(f"{env}={addr!r}: needs a port between 1 and 65535")
        problems += self.metrics_problems()
        problems += positive_problems(("STREAM_TIMEOUT", self.stream_timeout),
                                      ("LGR_GATEWAY_HEARTBEAT", self.heartbeat),
                                      ("LGR_GATEWAY_HEADER_TIMEOUT", self.header_timeout))
        problems += at_least_problems(("LGR_GATEWAY_MAX_STREAMS", self.max_streams, 1),
                                      ("LGR_GATEWAY_MAX_STREAMS_PER_TOKEN",
                                       self.max_streams_per_token, 1))
        problems += self.auth_options().validate(AUTH_ENV)
        return problems
