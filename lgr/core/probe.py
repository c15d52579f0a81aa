"""Probes: is a local port free, does a server accept an mTLS handshake, does an HTTP(S) URL answer.

`lgr up` uses them before starting components (every fixed port must be free) and while waiting
for them to come up. They use only the standard library (no gRPC), so the CLI stays light.
"""

from __future__ import annotations

import errno
import http.client
import socket
import ssl
from typing import Literal

from lgr.core.errors import UnavailableError

Proto = Literal["tcp", "udp"]


class PortInUseError(UnavailableError):
    """A port a component needs is taken; ``port``, ``proto`` and ``role`` say which."""

    def __init__(self, host: str, port: int, proto: Proto, role: str, reason: str = "in use") -> None:
        super().__init__(
            f"port {port}/{proto} on {host} is {reason} (wanted for the {role})",
            hint=f"stop whatever listens there (`ss -lnp 'sport = :{port}'` shows it), or choose another port",
        )
        self.host = host
        self.port = port
        self.proto = proto
        self.role = role


def check_port_free(host: str, port: int, proto: Proto = "tcp", role: str = "component") -> None:
    """Raise PortInUseError unless ``host:port`` can be bound now (port 0 is always free)."""
    if port == 0:
        return
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, kind) as sock:
        if proto == "tcp":
            # As the servers do: a port in TIME_WAIT is free; one with a listener is not.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            reason = "in use" if exc.errno == errno.EADDRINUSE else f"not bindable ({exc.strerror})"
            raise PortInUseError(host, port, proto, role, reason) from None


def free_port(host: str = "127.0.0.1", proto: Proto = "tcp") -> int:
    """A port the OS reports free right now (another process may still take it before you bind)."""
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, kind) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` (or ``[v6]:port``) as (host, port)."""
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def tls_accepts(address: str, context: ssl.SSLContext, server_name: str, timeout: float = 1.0) -> bool:
    """True when ``address`` completes a TLS handshake presenting ``context``'s client certificate.

    Offers ALPN ``h2`` as a gRPC client does.
    """
    host, port = split_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            with context.wrap_socket(raw, server_hostname=server_name) as tls:
                return tls.version() is not None
    except (OSError, ssl.SSLError, ValueError):
        return False


def client_context(
    ca_file: str, cert_file: str, key_file: str, alpn: list[str] | None = None
) -> ssl.SSLContext:
    """A client SSL context that presents ``cert_file`` and trusts only servers signed by the CA.

    Built here rather than with lgr.core.tls, which imports grpc: a supervising process that
    forks children is better off without grpc loaded. The files are expected to be checked already.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_verify_locations(cafile=ca_file)
    context.load_cert_chain(certfile=cert_file, keyfile=key_file)
    if alpn:
        context.set_alpn_protocols(alpn)
    return context


def grpc_client_context(ca_file: str, cert_file: str, key_file: str) -> ssl.SSLContext:
    """A client SSL context for probing gRPC servers: mTLS against the CA, ALPN h2."""
    return client_context(ca_file, cert_file, key_file, alpn=["h2"])


def http_healthy(url: str, context: ssl.SSLContext | None = None, timeout: float = 1.0) -> bool:
    """True when GET ``url`` answers 200 (``url`` is ``http[s]://host:port/path``)."""
    answer = http_get(url, context, timeout)
    return answer is not None and answer[0] == 200


def http_get(url: str, context: ssl.SSLContext | None = None,
             timeout: float = 1.0) -> tuple[int, bytes] | None:
    """GET ``url``: (status, body) of whatever answer comes, or None when none does."""
    scheme, _, rest = url.partition("://")
    hostport, _, path = rest.partition("/")
    host, port = split_address(hostport)
    conn: http.client.HTTPConnection
    if scheme == "https":
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", "/" + path)
        response = conn.getresponse()
        return response.status, response.read()
    except (OSError, ssl.SSLError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def health_url(metrics_url: str) -> str:
    """The /health URL beside a /metrics URL."""
    base = metrics_url[: -len("/metrics")] if metrics_url.endswith("/metrics") else metrics_url.rstrip("/")
    return base + "/health"
