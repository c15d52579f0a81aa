"""Shared test helpers: bounded waits, and a CA with leaf certificates for mTLS tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "vectors"


def wait_until(predicate: Callable[[], object], timeout: float = 5.0, interval: float = 0.01) -> object:
    """Poll ``predicate`` until it returns a truthy value; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {predicate}")
        time.sleep(interval)


async def async_wait_until(
    predicate: Callable[[], object], timeout: float = 5.0, interval: float = 0.01
) -> object:
    """The asyncio form of :func:`wait_until`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {predicate}")
        await asyncio.sleep(interval)


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    """tests/vectors (copied from shared/vectors): conformance data computed by upstream's code."""
    if not VECTORS.is_dir():
        pytest.fail(f"conformance vectors not found at {VECTORS}")
    return VECTORS


@dataclass(frozen=True)
class PKI:
    """A directory made by lgr.core.certs: ``ca`` plus ``cert(name)`` / ``key(name)`` per leaf.

    ``rogue`` is an unrelated CA with only a ``client`` and a ``router`` leaf, for tests that must be
    refused.
    """

    dir: Path
    rogue: PKI | None = None

    @property
    def ca(self) -> Path:
        return self.dir / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.dir / "ca.key"

    def cert(self, name: str) -> Path:
        return self.dir / f"{name}.crt"

    def key(self, name: str) -> Path:
        return self.dir / f"{name}.key"

    def files(self, name: str) -> tuple[Path, Path, Path]:
        """(ca, cert, key) for ``name``, in the order lgr.core.tls's builders take them."""
        return self.ca, self.cert(name), self.key(name)

    def leaf(self, name: str, server_names: Sequence[str]) -> tuple[Path, Path, Path]:
        """(ca, cert, key) of a server-and-client leaf ``name`` naming ``server_names``, made by
        this CA on first use: for a stand-in that serves under two roles' names (a router that
        also receives what the agent would)."""
        if not self.cert(name).exists():
            _issue_leaf(self, name, server_names)
        return self.files(name)


def _issue_leaf(pki: PKI, name: str, server_names: Sequence[str]) -> None:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca = x509.load_pem_x509_certificate(pki.ca.read_bytes())
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in server_names]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pki.key(name).write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    pki.cert(name).write_bytes(cert.public_bytes(serialization.Encoding.PEM))


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    """A CA with a leaf per component role (and the client), as `lgr certs gen` makes them, plus a
    rogue CA with its own client and router."""
    from lgr.core import certs

    base = tmp_path_factory.mktemp("pki")
    certs.generate_pki(base / "ca", days=30)
    certs.generate_pki(base / "rogue", components=("client", "router"), days=30)
    return PKI(base / "ca", rogue=PKI(base / "rogue"))
