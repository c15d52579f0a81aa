"""Traffic controller configuration: upstream trafficcontroller's environment variables and checks.

Names and defaults are upstream's (loggregator-release src/trafficcontroller/app/config.go):
TRAFFIC_CONTROLLER_OUTGOING_DROPSONDE_PORT (8081) serves websockets and HTTP, over TLS with
TRAFFIC_CONTROLLER_OUTGOING_{CERT,KEY}_FILE as upstream's ``http.ServeTLS`` (a server certificate
only: clients are browsers and the cf CLI, usually behind the CF router); ROUTER_ADDRS are read
over mTLS with ROUTER_{CA,CERT,KEY}_FILE, checking the routers as "doppler"; AGENT_GRPC_ADDRESS
takes the controller's own metrics and events, with the same certificates, checked as "metron";
the UAA / Cloud Controller variables choose upstream's authorization (lgr.core.auth).

lgr differences: the outgoing certificate is optional, and without it the controller serves plain
HTTP/WS on loopback only (as upstream's TLS is usually terminated by the CF router anyway);
LGR_TC_HOST (default 127.0.0.1; upstream listens on every interface); TRAFFIC_CONTROLLER_IP and
TRAFFIC_CONTROLLER_SYSTEM_DOMAIN are optional (the domain only scopes /set-cookie's cookie);
LGR_TOKENS_FILE is lgr's built-in authority when no UAA is configured; METRICS_PORT (default
14828; -1: off) replaces upstream's TRAFFIC_CONTROLLER_HEALTH_ADDR, over mTLS with
METRICS_*_PATH falling back to the ROUTER_* files; the LGR_TC_* settings expose what upstream
hard-codes (5 s slow consumer timeout, 30 s keep-alive, 1000-envelope buffer per stream) and the
in-memory recent-logs store used when no LOG_CACHE_ADDR is set.

LOG_CACHE_ADDR names the log cache that answers recent logs and container metrics. Upstream reads
its gRPC API over mTLS; lgr reads the HTTP API (lgr's or upstream's gateway), as host:port for
plain HTTP or an http(s):// URL, passing the caller's bearer token along. For HTTPS it trusts
LOG_CACHE_CA_FILE (default: ROUTER_CA_FILE), presents LOG_CACHE_{CERT,KEY}_FILE when set, and
checks the certificate for LOG_CACHE_SERVER_NAME (default: the address's host; upstream's is
"log_cache").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lgr.core.auth.options import TOKENS_FILE_ENV, AuthOptions
from lgr.core.config import Duration, check_port, setting
from lgr.core.settings import (
    MetricsEndpoint,
    OwnTls,
    addr_problem,
    at_least_problems,
    header_timeout_setting,
    metrics_file_setting,
    metrics_port_setting,
    positive_problems,
    router_addrs_problems,
    together_problems,
)

LOOPBACK = ("127.0.0.1", "localhost", "::1")
SOURCE_ID = "traffic_controller"  # upstream's metric emitter source id
ORIGIN = "loggregator.trafficcontroller"  # upstream's metric emitter origin

# AuthOptions field -> the traffic controller's env var, for problems and help.
AUTH_ENV = {
    "tokens_file": TOKENS_FILE_ENV,
    "uaa_addr": "TRAFFIC_CONTROLLER_UAA_HOST",
    "uaa_client_id": "TRAFFIC_CONTROLLER_UAA_CLIENT",
    "uaa_client_secret": "TRAFFIC_CONTROLLER_UAA_CLIENT_SECRET",
    "uaa_ca_path": "TRAFFIC_CONTROLLER_UAA_CA_CERT",
    "capi_addr": "TRAFFIC_CONTROLLER_API_HOST",
    "capi_ca_path": "CC_CA_FILE",
    "capi_cert_path": "CC_CERT_FILE",
    "capi_key_path": "CC_KEY_FILE",
    "capi_server_name": "CC_SERVER_NAME",
    "skip_cert_verify": "TRAFFIC_CONTROLLER_SKIP_CERT_VERIFY",
    "disabled": "TRAFFIC_CONTROLLER_DISABLE_ACCESS_CONTROL",
}


@dataclass(frozen=True)
class TcConfig(MetricsEndpoint, OwnTls):
    """Settings of `lgr tc start`; see each field's env var."""

    router_addrs: list[str] = setting(
        "ROUTER_ADDRS", [], "routers to read from, host:port,host:port,...", required=True)
    host: str = setting("LGR_TC_HOST", "127.0.0.1", "address the websocket server listens on")
    port: int = setting("TRAFFIC_CONTROLLER_OUTGOING_DROPSONDE_PORT", 8081,
                        "websocket and HTTP port (0: any free port)")
    outgoing_cert_file: str = setting(
        "TRAFFIC_CONTROLLER_OUTGOING_CERT_FILE", "",
        "TLS certificate of the websocket server (unset: plain HTTP, loopback only)")
    outgoing_key_file: str = setting("TRAFFIC_CONTROLLER_OUTGOING_KEY_FILE", "",
                                     "private key of that certificate")
    ca_file: str = setting("ROUTER_CA_FILE", "", "CA that signs the routers' certificates",
                           required=True)
    cert_file: str = setting("ROUTER_CERT_FILE", "",
                             "client certificate towards routers and the agent", required=True)
    key_file: str = setting("ROUTER_KEY_FILE", "", "its private key", required=True)
    agent_addr: str = setting(
        "AGENT_GRPC_ADDRESS", "",
        "agent that takes the controller's metrics and events, host:port (unset: log them)")
    metric_interval: Duration = setting(
        "TRAFFIC_CONTROLLER_METRIC_EMITTER_INTERVAL", Duration(60.0),
        "how often metrics go to the agent")
    ip: str = setting("TRAFFIC_CONTROLLER_IP", "", "this controller's IP, for log lines")
    system_domain: str = setting(
        "TRAFFIC_CONTROLLER_SYSTEM_DOMAIN", "",
        "CF system domain; /set-cookie scopes its cookie to doppler.<domain>")
    disable_access_control: bool = setting(
        "TRAFFIC_CONTROLLER_DISABLE_ACCESS_CONTROL", False, "let every request read everything")
    tokens_file: str = setting(
        TOKENS_FILE_ENV, "", "tokens file granting admin or per-source reads, used when no UAA "
        "is set (default: tokens.json in lgr's state dir)")
    uaa_host: str = setting("TRAFFIC_CONTROLLER_UAA_HOST", "",
                            "UAA base URL; set it to check tokens with UAA and CAPI as upstream")
    uaa_client: str = setting("TRAFFIC_CONTROLLER_UAA_CLIENT", "", "UAA client id")
    uaa_client_secret: str = setting("TRAFFIC_CONTROLLER_UAA_CLIENT_SECRET", "",
                                     "UAA client secret", secret=True)
    uaa_ca_cert: str = setting("TRAFFIC_CONTROLLER_UAA_CA_CERT", "", "CA of UAA's certificate")
    api_host: str = setting("TRAFFIC_CONTROLLER_API_HOST", "",
                            "Cloud Controller base URL for log access checks")
    cc_ca_file: str = setting("CC_CA_FILE", "", "CA of the Cloud Controller's certificate")
    cc_cert_file: str = setting("CC_CERT_FILE", "",
                                "client certificate towards the Cloud Controller")
    cc_key_file: str = setting("CC_KEY_FILE", "", "its private key")
    cc_server_name: str = setting("CC_SERVER_NAME", "", "server name of the Cloud Controller")
    skip_cert_verify: bool = setting("TRAFFIC_CONTROLLER_SKIP_CERT_VERIFY", False,
                                     "do not verify UAA's and the Cloud Controller's certificates")
    slow_consumer_timeout: Duration = setting(
        "LGR_TC_SLOW_CONSUMER_TIMEOUT", Duration(5.0),
        "a websocket whose writes stall this long is disconnected as a slow consumer")
    keepalive: Duration = setting(
        "LGR_TC_KEEPALIVE", Duration(30.0),
        "a websocket that answers no ping for this long is closed (1008)")
    buffer_size: int = setting(
        "LGR_TC_BUFFER_SIZE", 1000,
        "envelopes buffered per websocket before its oldest are dropped")
    log_cache_addr: str = setting(
        "LOG_CACHE_ADDR", "", "log cache serving /recentlogs and /containermetrics: host:port "
        "(HTTP) or an http(s):// URL (unset: the controller's in-memory store)")
    log_cache_ca_file: str = setting("LOG_CACHE_CA_FILE", "",
                                     "CA of the log cache's HTTPS certificate (default: ROUTER_CA_FILE)")
    log_cache_cert_file: str = setting("LOG_CACHE_CERT_FILE", "",
                                       "client certificate shown to the log cache (optional)")
    log_cache_key_file: str = setting("LOG_CACHE_KEY_FILE", "", "its private key")
    log_cache_server_name: str = setting(
        "LOG_CACHE_SERVER_NAME", "", "name the log cache's certificate must carry "
        "(default: the host of LOG_CACHE_ADDR)")
    header_timeout: Duration = header_timeout_setting("LGR_TC_HEADER_TIMEOUT")
    recent_logs: int = setting("LGR_TC_RECENT_LOGS", 100,
                               "recent logs kept per app for /recentlogs without a log cache (0: off)")
    recent_apps: int = setting("LGR_TC_RECENT_APPS", 1000,
                               "apps whose recent logs and container metrics are kept")
    metrics_port: int = metrics_port_setting(14828)
    metrics_ca_file: str = metrics_file_setting(0, "ROUTER_CA_FILE")
    metrics_cert_file: str = metrics_file_setting(1, "ROUTER_CERT_FILE")
    metrics_key_file: str = metrics_file_setting(2, "ROUTER_KEY_FILE")

    @property
    def log_cache_url(self) -> str:
        """LOG_CACHE_ADDR as a URL (``http://`` added to host:port); "" when unset."""
        addr = self.log_cache_addr.strip().rstrip("/")
        return addr if not addr or "://" in addr else f"http://{addr}"

    @property
    def serves_tls(self) -> bool:
        """True when the websocket server has a certificate (HTTPS/WSS)."""
        return bool(self.outgoing_cert_file)

    @property
    def cookie_domain(self) -> str:
        """Upstream's cookie domain, ``doppler.<system domain>`` ("" without a domain)."""
        return f"doppler.{self.system_domain}" if self.system_domain else ""

    def auth_options(self) -> AuthOptions:
        """The authorization settings as lgr.core.auth takes them."""
        return AuthOptions(
            tokens_file=Path(self.tokens_file).expanduser() if self.tokens_file else None,
            uaa_addr=self.uaa_host,
            uaa_client_id=self.uaa_client,
            uaa_client_secret=self.uaa_client_secret,
            uaa_ca_path=self.uaa_ca_cert,
            capi_addr=self.api_host,
            capi_ca_path=self.cc_ca_file,
            capi_cert_path=self.cc_cert_file,
            capi_key_path=self.cc_key_file,
            capi_server_name=self.cc_server_name,
            skip_cert_verify=self.skip_cert_verify,
            disabled=self.disable_access_control,
        )

    def validate(self) -> list[str]:
        """Every cross-field problem, named by env var."""
        problems = check_port("TRAFFIC_CONTROLLER_OUTGOING_DROPSONDE_PORT", self.port)
        problems += self.metrics_problems() + router_addrs_problems(self.router_addrs)
        if self.agent_addr and addr_problem(self.agent_addr):
            problems.append(f"AGENT_GRPC_ADDRESS={self.agent_addr!r}: "
                            f"{addr_problem(self.agent_addr)}")
        problems += self._log_cache_problems()
        problems += together_problems(
            ("TRAFFIC_CONTROLLER_OUTGOING_CERT_FILE", self.outgoing_cert_file,
             "TRAFFIC_CONTROLLER_OUTGOING_KEY_FILE", self.outgoing_key_file))
        if not self.serves_tls and self.host not in LOOPBACK:
            problems.append(
                f"LGR_TC_HOST={self.host!r}: without TRAFFIC_CONTROLLER_OUTGOING_CERT_FILE the "
                "controller serves plain HTTP and may only listen on loopback")
        if not self.host.strip():
            problems.append("LGR_TC_HOST is empty: give an address to listen on")
        problems += positive_problems(
            ("LGR_TC_SLOW_CONSUMER_TIMEOUT", self.slow_consumer_timeout),
            ("LGR_TC_KEEPALIVE", self.keepalive),
            ("LGR_TC_HEADER_TIMEOUT", self.header_timeout),
            ("TRAFFIC_CONTROLLER_METRIC_EMITTER_INTERVAL", self.metric_interval))
        problems += at_least_problems(("LGR_TC_BUFFER_SIZE", self.buffer_size, 1),
                                      ("LGR_TC_RECENT_LOGS", self.recent_logs, 0),
                                      ("LGR_TC_RECENT_APPS", self.recent_apps, 1))
        problems += self.auth_options().validate(AUTH_ENV)
        return problems

    def _log_cache_problems(self) -> list[str]:
        problems = []
        url = self.log_cache_url
        scheme, _, rest = url.partition("://")
        if url and (scheme not in ("http", "https") or addr_problem(rest)):
            problems.append(f"LOG_CACHE_ADDR={self.log_cache_addr!r}: use host:port or an "
                            "http(s)://host:port URL")
        problems += together_problems(("LOG_CACHE_CERT_FILE", self.log_cache_cert_file,
                                       "LOG_CACHE_KEY_FILE", self.log_cache_key_file))
        return problems
