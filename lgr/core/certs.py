"""Certificate authority for lgr: makes a CA and one mTLS key/cert pair per component.

Keys are RSA 2048, not EC P-256: upstream's Go peers (go-loggregator's TLS config, loggregator's
plumbing, code.cloudfoundry.org/tlsconfig) offer only the TLS_ECDHE_RSA_* cipher suites on TLS 1.2,
so a server holding an ECDSA key could never complete a handshake with them. RSA costs ~50 ms per
key to make, which only ``lgr certs gen`` pays.

Each leaf gets its role's names and usages (:mod:`lgr.core.cert_roles`): a server's certificate
names only that server, and the consumers' ``client`` certificate (like every extra name) is a
client certificate with no server name, so it cannot impersonate a router. A directory holds ``ca.crt``, ``ca.key``, ``<name>.crt`` and
``<name>.key``; keys are created with mode 0600 and nothing is overwritten unless asked.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from lgr.core.cert_roles import LOCAL_IPS, leaf_sans, leaf_usage_names, leaf_usages
from lgr.core.errors import AlreadyExistsError, ConfigError, TLSConfigError
from lgr.core.tls import key_matches, load_certificates, load_private_key

COMPONENTS = ("agent", "router", "rlp", "gateway", "tc", "cache", "client")
CA_NAME = "ca"
DEFAULT_DAYS = 365
MAX_DAYS = 36500

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

# A name becomes both a file name and a DNS SAN, so it must be a valid host name.
_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$", re.I)
# Peers' clocks drift; a certificate valid from "now" fails on a peer a few seconds behind.
_BACKDATE = dt.timedelta(minutes=5)
_WRITABLE_HINT = "choose a writable --dir"
_PUBLIC_MODE = 0o644
_PRIVATE_MODE = 0o600


@dataclass(frozen=True)
class CertRecord:
    """One certificate written to disk: its name, files, expiry and subject alternative names."""

    name: str
    cert: Path
    key: Path
    not_after: dt.datetime
    sans: tuple[str, ...]
    is_ca: bool = False
    usage: tuple[str, ...] = ()  # "server", "client"; empty for the CA


def cert_path(directory: str | os.PathLike[str], name: str) -> Path:
    """The certificate file of ``name`` in ``directory``."""
    return Path(directory) / f"{name}.crt"


def key_path(directory: str | os.PathLike[str], name: str) -> Path:
    """The private key file of ``name`` in ``directory``."""
    return Path(directory) / f"{name}.key"


def has_ca(directory: str | os.PathLike[str]) -> bool:
    """True when ``directory`` holds a ca.crt or a ca.key."""
    return any(os.path.lexists(p) for p in (cert_path(directory, CA_NAME), key_path(directory, CA_NAME)))


def generate_pki(
    directory: str | os.PathLike[str],
    *,
    extra_names: Iterable[str] = (),
    components: Iterable[str] = COMPONENTS,
    days: int = DEFAULT_DAYS,
    force: bool = False,
) -> list[CertRecord]:
    """Make a new CA and a leaf per component and extra name; return what was written, CA first.

    Refuses (AlreadyExistsError) before writing anything if any target file exists, unless
    ``force``.
    """
    directory = Path(directory)
    names = _check_names([*components, *extra_names])
    _check_days(days)
    _refuse_existing(directory, [CA_NAME, *names], force)
    now = _now()
    ca_key = _new_key()
    ca_cert = _build_ca(ca_key, now, now + dt.timedelta(days=days))
    issued = [(name, *_issue(name, ca_cert, ca_key, now, days)) for name in names]
    _make_dir(directory)
    records = [_write_pair(directory, CA_NAME, ca_cert, ca_key, force, is_ca=True)]
    records += [_write_pair(directory, name, cert, key, force) for name, cert, key in issued]
    return records


def add_client_certs(
    directory: str | os.PathLike[str], names: Iterable[str], *, days: int = DEFAULT_DAYS, force: bool = False
) -> list[CertRecord]:
    """Make one more leaf per name, signed by the CA already in ``directory``; return what was written.

    A leaf never outlives its CA: its expiry is capped at the CA's.
    """
    directory = Path(directory)
    names = _check_names(names)
    if not names:
        raise ConfigError(["no certificate name given"], "name the certificate to add, e.g. --name alice")
    _check_days(days)
    ca_cert, ca_key = load_ca(directory)
    _refuse_existing(directory, names, force)
    now = _now()
    issued = [(name, *_issue(name, ca_cert, ca_key, now, days)) for name in names]
    return [_write_pair(directory, name, cert, key, force) for name, cert, key in issued]


def load_ca(directory: str | os.PathLike[str]) -> tuple[x509.Certificate, SigningKey]:
    """Read ca.crt and ca.key from ``directory`` and check they are a usable, matching CA."""
    crt, key_file = cert_path(directory, CA_NAME), key_path(directory, CA_NAME)
    remake = f"make a new CA with `lgr certs gen --dir {directory} --force`"
    cert = load_certificates(crt, role="CA")[0]
    key = load_private_key(key_file)
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise TLSConfigError(f"CA file {crt} is not a CA certificate (no basicConstraints CA:TRUE)", remake)
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise TLSConfigError(f"key file {key_file} is not an RSA or EC key, which lgr can sign with", remake)
    if not key_matches(cert, key):
        raise TLSConfigError(f"key file {key_file} does not match CA file {crt}", remake)
    if cert.not_valid_after_utc <= _now():
        raise TLSConfigError(f"CA file {crt} expired on {cert.not_valid_after_utc:%Y-%m-%d}", remake)
    return cert, key


def _check_names(names: Iterable[str]) -> list[str]:
    unique = list(dict.fromkeys(n.strip() for n in names))
    problems = []
    for name in unique:
        if name.lower() == CA_NAME:
            problems.append("certificate name 'ca' is reserved for the CA's own files")
        elif len(name) > 63 or not _NAME_RE.match(name):
            problems.append(f"invalid certificate name {name!r}: use a host name (letters, digits, '-', '.')")
    if problems:
        raise ConfigError(problems, "names become file names and DNS SANs, e.g. --name my-app")
    return unique


def _check_days(days: int) -> None:
    if not 1 <= days <= MAX_DAYS:
        raise ConfigError([f"days must be between 1 and {MAX_DAYS}, got {days}"])


def _refuse_existing(directory: Path, names: Iterable[str], force: bool) -> None:
    if force:
        return
    paths = [p for n in names for p in (cert_path(directory, n), key_path(directory, n))]
    existing = [p.name for p in paths if os.path.lexists(p)]
    if existing:
        shown = ", ".join(existing[:4]) + (f" and {len(existing) - 4} more" if len(existing) > 4 else "")
        raise AlreadyExistsError(
            f"refusing to overwrite {shown} in {directory}",
            "pass --force to overwrite them, or choose another --dir",
        )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _build_ca(key: rsa.RSAPrivateKey, now: dt.datetime, not_after: dt.datetime) -> x509.Certificate:
    # A random suffix tells CAs apart in errors ("unable to get local issuer") after a regeneration.
    subject = _name(f"lgr CA {secrets.token_hex(4)}")
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    builder = (
        _base(subject, subject, key.public_key(), now - _BACKDATE, not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True, digital_signature=True), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
    )
    return builder.sign(key, hashes.SHA256())


def _issue(
    name: str, ca_cert: x509.Certificate, ca_key: SigningKey, now: dt.datetime, days: int
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = _new_key()
    not_after = min(now + dt.timedelta(days=days), ca_cert.not_valid_after_utc)
    names = leaf_sans(name)
    sans = [x509.DNSName(s) for s in names if s not in LOCAL_IPS]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in names if ip in LOCAL_IPS]
    builder = (
        _base(_name(name), ca_cert.subject, key.public_key(), now - _BACKDATE, not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, key_encipherment=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage(list(leaf_usages(name))), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(_authority_key_id(ca_cert), critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def _base(subject: x509.Name, issuer: x509.Name, public_key, not_before, not_after):
    builder = x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
    builder = builder.serial_number(x509.random_serial_number())
    return builder.not_valid_before(not_before).not_valid_after(not_after)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "lgr"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_usage(**enabled: bool) -> x509.KeyUsage:
    fields = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
              "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    return x509.KeyUsage(**{f: enabled.get(f, False) for f in fields})


def _authority_key_id(ca_cert: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key())
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _make_dir(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)  # 0700: it will hold private keys
    except OSError as exc:
        raise TLSConfigError(f"cannot create {directory}: {exc.strerror or exc}", _WRITABLE_HINT) from exc


def _write_pair(
    directory: Path, name: str, cert: x509.Certificate, key, force: bool, *, is_ca: bool = False
) -> CertRecord:
    crt, key_file = cert_path(directory, name), key_path(directory, name)
    pkcs8 = serialization.PrivateFormat.PKCS8
    _write(key_file, key.private_bytes(serialization.Encoding.PEM, pkcs8, serialization.NoEncryption()),
           _PRIVATE_MODE, force)
    _write(crt, cert.public_bytes(serialization.Encoding.PEM), _PUBLIC_MODE, force)
    sans = () if is_ca else leaf_sans(name)
    usage = () if is_ca else leaf_usage_names(name)
    return CertRecord(name, crt, key_file, cert.not_valid_after_utc, sans, is_ca, usage)


def _write(path: Path, data: bytes, mode: int, force: bool) -> None:
    """Create ``path`` with ``mode`` from the start, so a key is never briefly world-readable."""
    try:
        if not force:
            _create(path, data, mode)
            return
        # Replacing through a fresh file gives the new mode even if the old file had a wider one.
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            _create(tmp, data, mode)
            os.replace(tmp, path)
        finally:
            if os.path.lexists(tmp):
                os.unlink(tmp)
    except FileExistsError as exc:
        raise AlreadyExistsError(f"refusing to overwrite {path}", "pass --force to overwrite it") from exc
    except OSError as exc:
        raise TLSConfigError(f"cannot write {path}: {exc.strerror or exc}", _WRITABLE_HINT) from exc


def _create(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
