"""Mutual TLS for lgr's servers and clients: checked PEM files, gRPC credentials, SSL contexts.

Every lgr link is mutual TLS, as upstream's: servers require a client certificate signed by the
configured CA, and clients verify the server against the same CA under one of upstream's fixed
server names (``metron``, ``doppler``, ``reverselogproxy``), whatever host they dial.

Files are read and checked up front so that a wrong path, a garbled PEM, a key that does not match
its certificate, an expired or not yet valid certificate, one not signed by the CA, a chain signed
by a leaf, a leaf given as the CA file, or a client-only certificate given to a server (see
:mod:`lgr.core.cert_checks`) is reported as one
:class:`~lgr.core.errors.TLSConfigError` naming the file (and its env var when known), instead of
as an opaque handshake failure later.
"""

from __future__ import annotations

import datetime as dt
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from lgr.core.cert_checks import Usage, ca_problem, chain_problem, is_issued_by, usage_problem, validity_problem
from lgr.core.errors import TLSConfigError

__all__ = ["is_issued_by"]  # re-exported: it lived here first

AGENT_SERVER_NAME = "metron"
ROUTER_SERVER_NAME = "doppler"
RLP_SERVER_NAME = "reverselogproxy"
LOG_CACHE_SERVER_NAME = "log-cache"
UPSTREAM_SERVER_NAMES = (AGENT_SERVER_NAME, ROUTER_SERVER_NAME, RLP_SERVER_NAME, LOG_CACHE_SERVER_NAME)

MAX_MESSAGE_BYTES = 10 * 1024 * 1024

PathLike = str | os.PathLike[str]

_GEN_HINT = "make a CA and certificates with `lgr certs gen`"


@dataclass(frozen=True)
class TLSMaterial:
    """The checked PEM bytes of a CA bundle, a certificate chain and its private key."""

    ca: bytes
    cert: bytes
    key: bytes
    not_after: dt.datetime


@dataclass(frozen=True)
class TLSFiles:
    """Paths of a CA bundle, a certificate and its key; ``env`` names the variables that set them.

    ``env`` is ``(ca_var, cert_var, key_var)``, e.g. ``("ROUTER_CA_FILE", "ROUTER_CERT_FILE",
    "ROUTER_KEY_FILE")``; it only improves error hints. Paths may be given as str and become
    Path; unset ones (None or "") are allowed here and reported by :meth:`load`.
    """

    ca: Path | None
    cert: Path | None
    key: Path | None
    env: tuple[str, str, str] | None = None

    def __post_init__(self) -> None:
        for name in ("ca", "cert", "key"):
            value = getattr(self, name)
            # Config often hands over "" for an unset variable; Path("") would silently mean ".".
            object.__setattr__(self, name, Path(value) if value not in (None, "") else None)

    def load(self, usage: Usage | None = None) -> TLSMaterial:
        """Read and check all three files; raise TLSConfigError naming the first bad one.

        ``usage`` ("server" or "client") also checks that the certificate may act as that side.
        """
        ca_env, cert_env, key_env = self.env or (None, None, None)
        ca_pem = _read(self.ca, "CA", ca_env)
        cas = _parse_certificates(ca_pem, self.ca, "CA", ca_env)
        cert_pem = _read(self.cert, "certificate", cert_env)
        chain = _parse_certificates(cert_pem, self.cert, "certificate", cert_env)
        key_pem = _read(self.key, "key", key_env)
        key = _parse_private_key(key_pem, self.key, key_env)

        leaf = chain[0]
        if not key_matches(leaf, key):
            raise _error(self.key, "key", f"does not match certificate {self.cert}", key_env,
                         hint="use the .key file made together with that .crt file")
        now = dt.datetime.now(dt.timezone.utc)
        remake = "make new certificates with `lgr certs gen --force`"
        problem = ca_problem(cas, now)
        if problem:
            raise _error(self.ca, "CA", problem, ca_env,
                         hint=_env_hint(ca_env, "the CA certificate (ca.crt) that signed the certificates"))
        for cert in chain:
            problem = validity_problem(cert, now)
            if problem:
                raise _error(self.cert, "certificate", problem, cert_env, hint=remake)
        # Upstream (plumbing.NewMutualTLSConfig) refuses a certificate its own CA cannot verify:
        # such a server could never be reached by its peers, so fail at start-up instead.
        problem = chain_problem(chain, cas)
        if problem:
            raise _error(self.cert, "certificate", problem.format(ca=self.ca), cert_env,
                         hint="use the CA that issued it, or remake both with `lgr certs gen --force`")
        problem = usage_problem(leaf, usage)
        if problem:
            raise _error(self.cert, "certificate", problem, cert_env,
                         hint=_env_hint(cert_env, f"a {usage} certificate (`lgr certs gen` makes one per role)"))
        return TLSMaterial(ca=ca_pem, cert=cert_pem, key=key_pem, not_after=leaf.not_valid_after_utc)


def load_certificates(
    path: PathLike | None, *, role: str = "certificate", env: str | None = None
) -> list[x509.Certificate]:
    """Read every PEM certificate in ``path``; raise TLSConfigError if there is none."""
    path = Path(path) if path not in (None, "") else None
    return _parse_certificates(_read(path, role, env), path, role, env)


def load_private_key(path: PathLike | None, *, env: str | None = None) -> PrivateKeyTypes:
    """Read an unencrypted PEM private key from ``path``; raise TLSConfigError if unusable."""
    path = Path(path) if path not in (None, "") else None
    return _parse_private_key(_read(path, "key", env), path, env)


def key_matches(cert: x509.Certificate, key: PrivateKeyTypes) -> bool:
    """True when ``key`` is the private half of ``cert``'s public key."""
    return _public_der(cert.public_key()) == _public_der(key.public_key())


def server_credentials(
    ca_file: PathLike, cert_file: PathLike, key_file: PathLike, *, env: tuple[str, str, str] | None = None
) -> grpc.ServerCredentials:
    """gRPC server credentials that present ``cert_file`` and require a client cert signed by the CA."""
    m = TLSFiles(ca_file, cert_file, key_file, env).load("server")
    return grpc.ssl_server_credentials([(m.key, m.cert)], root_certificates=m.ca, require_client_auth=True)


def client_credentials(
    ca_file: PathLike, cert_file: PathLike, key_file: PathLike, *, env: tuple[str, str, str] | None = None
) -> grpc.ChannelCredentials:
    """gRPC channel credentials that present ``cert_file`` and trust only servers signed by the CA."""
    m = TLSFiles(ca_file, cert_file, key_file, env).load("client")
    return grpc.ssl_channel_credentials(root_certificates=m.ca, private_key=m.key, certificate_chain=m.cert)


def channel_options(server_name: str | None) -> list[tuple[str, Any]]:
    """gRPC channel options: verify the server as ``server_name`` and allow 10 MiB messages.

    Upstream clients dial any host but check the certificate against a fixed name ("doppler" for a
    router), so lgr clients do the same through the target-name override.
    """
    options: list[tuple[str, Any]] = [
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ]
    if server_name:
        options.insert(0, ("grpc.ssl_target_name_override", server_name))
    return options


def server_ssl_context(
    ca_file: PathLike, cert_file: PathLike, key_file: PathLike, *, env: tuple[str, str, str] | None = None
) -> ssl.SSLContext:
    """An HTTPS server context that presents ``cert_file`` and requires a client cert signed by the CA."""
    files = TLSFiles(ca_file, cert_file, key_file, env)
    files.load("server")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.verify_mode = ssl.CERT_REQUIRED
    _configure(context, files)
    return context


def client_ssl_context(
    ca_file: PathLike, cert_file: PathLike, key_file: PathLike, *, env: tuple[str, str, str] | None = None
) -> ssl.SSLContext:
    """An HTTPS client context that presents ``cert_file`` and verifies the server against the CA.

    Hostname checking stays on: pass ``server_hostname`` (e.g. "reverselogproxy") when connecting.
    """
    files = TLSFiles(ca_file, cert_file, key_file, env)
    files.load("client")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _configure(context, files)
    return context


def _configure(context: ssl.SSLContext, files: TLSFiles) -> None:
    # Upstream Go peers speak TLS 1.2 only (go-loggregator pins MaxVersion), so 1.2 is the floor.
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_verify_locations(cafile=str(files.ca))
        context.load_cert_chain(certfile=str(files.cert), keyfile=str(files.key))
    except (ssl.SSLError, OSError) as exc:
        # The files were just checked; this only happens if they change underneath us.
        raise TLSConfigError(f"cannot use {files.cert} / {files.key}: {exc}", _GEN_HINT) from exc


def _read(path: Path | None, role: str, env: str | None) -> bytes:
    if path is None:
        if env:
            raise TLSConfigError(f"{env} is not set", f"set {env} to a PEM {role} file; {_GEN_HINT}")
        raise TLSConfigError(f"no {role} file given", _GEN_HINT)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        problem = "does not exist"
    except IsADirectoryError:
        problem = "is a directory, not a file"
    except PermissionError:
        problem = "is not readable (permission denied)"
    except OSError as exc:
        problem = f"cannot be read: {exc.strerror or exc}"
    raise _error(path, role, problem, env)


def _parse_certificates(data: bytes, path: Path | None, role: str, env: str | None) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        pass
    problem = "holds no PEM certificate"
    if b"PRIVATE KEY" in data:
        problem += " (it holds a private key: are the cert and key swapped?)"
    raise _error(path, role, problem, env)


def _parse_private_key(data: bytes, path: Path | None, env: str | None) -> PrivateKeyTypes:
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:
        problem = "is encrypted; lgr needs an unencrypted key"
    except UnsupportedAlgorithm:
        problem = "holds a key of an unsupported type"
    except ValueError:
        problem = "holds no PEM private key"
        if b"CERTIFICATE" in data:
            problem += " (it holds a certificate: are the cert and key swapped?)"
    raise _error(path, "key", problem, env)


def _public_der(key: Any) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _env_hint(env: str | None, what: str) -> str:
    return f"set {env} to {what}" if env else f"use {what}"


def _error(
    path: Path | None, role: str, problem: str, env: str | None, hint: str | None = None
) -> TLSConfigError:
    where = f"{role} file {path}" + (f" ({env})" if env else "")
    if hint is None:
        hint = (f"set {env} to a readable PEM {role} file; " if env else "") + _GEN_HINT
    return TLSConfigError(f"{where} {problem}", hint)



def https_server_context(
    cert_file: PathLike, key_file: PathLike, env: tuple[str, str]
) -> ssl.SSLContext:
    """A server-only HTTPS context (no client certificate asked), its pair checked up front.

    For the HTTP-facing servers (gateway, log cache, traffic controller), which upstream serves
    with a certificate of their own and bearer tokens instead of client certificates. ``env``
    names the (cert, key) variables for error hints. ALPN offers http/1.1 only: these servers
    do not speak HTTP/2.
    """
    cert = load_certificates(cert_file, env=env[0])[0]
    key = load_private_key(key_file, env=env[1])
    if not key_matches(cert, key):
        raise TLSConfigError(f"{key_file} is not the key of {cert_file}",
                             hint=f"set {env[0]} and {env[1]} to a matching pair")
    problem = validity_problem(cert, dt.datetime.now(dt.timezone.utc)) or usage_problem(cert, "server")
    if problem:
        raise _error(Path(cert_file), "certificate", problem, env[0], hint=_env_hint(env[0], "a valid server certificate"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    context.load_cert_chain(str(cert_file), str(key_file))
    return context
