"""Tests for lgr.core.certs: the CA and leaves verify with openssl, keys are private, no clobbering."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from lgr.core import certs
from lgr.core.cert_roles import sans_of
from lgr.core.errors import AlreadyExistsError, ConfigError, ExitCode, TLSConfigError

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
needs_openssl = pytest.mark.skipif(not os.path.exists(OPENSSL), reason="openssl not installed")


def openssl_verify(ca: Path, cert: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [OPENSSL, "verify", *extra, "-CAfile", str(ca), str(cert)],
        capture_output=True, text=True, timeout=30,
    )


def read_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def umasked(wanted: int) -> int:
    """``wanted`` as the process umask lets it through (a umask of 077 makes certs 0600 too)."""
    current = os.umask(0)
    os.umask(current)
    return wanted & ~current


SERVERS = ("agent", "router", "rlp", "gateway", "tc", "cache")
CLIENTS = ("agent", "rlp", "gateway", "tc", "cache", "client")


@needs_openssl
@pytest.mark.parametrize("name", SERVERS)
def test_every_server_leaf_passes_openssl_verify_as_a_server(pki, name):
    result = openssl_verify(pki.ca, pki.cert(name), "-purpose", "sslserver")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(": OK")


@needs_openssl
@pytest.mark.parametrize("name", CLIENTS)
def test_every_client_leaf_passes_openssl_verify_as_a_client(pki, name):
    result = openssl_verify(pki.ca, pki.cert(name), "-purpose", "sslclient")
    assert result.returncode == 0, result.stderr


@needs_openssl
@pytest.mark.parametrize(("name", "purpose"), [("client", "sslserver"), ("router", "sslclient")])
def test_a_leaf_fails_openssl_verify_for_a_usage_its_role_lacks(pki, name, purpose):
    assert openssl_verify(pki.ca, pki.cert(name), "-purpose", purpose).returncode != 0


@needs_openssl
def test_the_ca_verifies_itself_and_the_rogue_leaf_does_not(pki):
    assert openssl_verify(pki.ca, pki.ca).returncode == 0
    assert openssl_verify(pki.ca, pki.rogue.cert("client")).returncode != 0


def test_keys_are_0600_and_certs_world_readable(pki):
    for name in ("ca", *certs.COMPONENTS):
        assert mode(pki.key(name)) == 0o600, name
        assert mode(pki.cert(name)) == umasked(0o644), name


@pytest.mark.parametrize(("name", "server_names"), [
    ("agent", {"metron"}), ("router", {"doppler"}), ("rlp", {"reverselogproxy"}),
    ("cache", {"log-cache"}), ("gateway", set()), ("tc", set()),
])
def test_each_server_leaf_names_only_its_own_server_itself_and_loopback(pki, name, server_names):
    assert sans_of(read_cert(pki.cert(name))) == {*server_names, name, "localhost", "127.0.0.1", "::1"}


def test_the_client_leaf_names_no_server_and_is_client_only(pki):
    client = read_cert(pki.cert("client"))
    assert sans_of(client) == set()
    assert set(client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == {
        ExtendedKeyUsageOID.CLIENT_AUTH}


def test_leaves_carry_their_roles_usages_and_are_signed_by_the_ca(pki):
    ca = read_cert(pki.ca)
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    server, client = ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH
    wanted = {"router": {server}, "client": {client}}
    for name in certs.COMPONENTS:
        leaf = read_cert(pki.cert(name))
        eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert set(eku) == wanted.get(name, {server, client}), name
        assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
        aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        assert aki.key_identifier == ca_ski
        leaf.verify_directly_issued_by(ca)


def test_the_ca_is_a_critical_ca_that_signs_certificates(pki):
    ca = read_cert(pki.ca)
    basic = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage)
    assert basic.critical and basic.value.ca
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert ca.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)


def test_generate_returns_records_matching_the_files(tmp_path):
    records = certs.generate_pki(tmp_path, extra_names=["alice", "router"], days=10)
    assert [r.name for r in records] == ["ca", *certs.COMPONENTS, "alice"]
    assert records[0].is_ca and records[0].sans == ()
    now = dt.datetime.now(dt.timezone.utc)
    for r in records:
        cert = read_cert(r.cert)
        assert r.not_after == cert.not_valid_after_utc
        assert abs(r.not_after - (now + dt.timedelta(days=10))) < dt.timedelta(minutes=1)
        assert r.key.is_file() and r.cert.parent == tmp_path
    alice = records[-1]
    assert alice.sans == () and alice.usage == ("client",)
    router = next(r for r in records if r.name == "router")
    assert router.sans == ("doppler", "router", "localhost", "127.0.0.1", "::1") and router.usage == ("server",)


def test_refuses_to_overwrite_without_force_and_writes_nothing(tmp_path):
    certs.generate_pki(tmp_path, components=("client",))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(AlreadyExistsError) as info:
        certs.generate_pki(tmp_path)
    assert info.value.exit_code == ExitCode.EXISTS == 6
    assert "--force" in info.value.hint
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_one_existing_file_blocks_the_whole_run(tmp_path):
    (tmp_path / "tc.key").write_text("mine")
    with pytest.raises(AlreadyExistsError, match="tc.key"):
        certs.generate_pki(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tc.key"]


def test_force_replaces_everything_and_narrows_a_widened_key(tmp_path):
    certs.generate_pki(tmp_path, components=("client",))
    old_ca = (tmp_path / "ca.crt").read_bytes()
    (tmp_path / "client.key").chmod(0o644)
    certs.generate_pki(tmp_path, components=("client",), force=True)
    assert (tmp_path / "ca.crt").read_bytes() != old_ca
    assert mode(tmp_path / "client.key") == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_creates_missing_directories_private(tmp_path):
    target = tmp_path / "a" / "b"
    certs.generate_pki(target, components=("client",))
    assert mode(target) == umasked(0o700)


@needs_openssl
def test_add_client_certs_reuses_the_ca(tmp_path):
    certs.generate_pki(tmp_path, components=("client",))
    ca_before = (tmp_path / "ca.crt").read_bytes()
    [record] = certs.add_client_certs(tmp_path, ["alice"])
    assert (record.name, record.cert, record.key) == ("alice", tmp_path / "alice.crt", tmp_path / "alice.key")
    assert record.sans == () and record.usage == ("client",)
    assert (tmp_path / "ca.crt").read_bytes() == ca_before
    assert mode(record.key) == 0o600
    assert openssl_verify(tmp_path / "ca.crt", record.cert, "-purpose", "sslclient").returncode == 0


def test_an_added_cert_never_outlives_its_ca(tmp_path):
    [ca, _] = certs.generate_pki(tmp_path, components=("client",), days=5)
    [alice] = certs.add_client_certs(tmp_path, ["alice"], days=100)
    assert alice.not_after == ca.not_after


def test_add_refuses_an_existing_name_unless_forced(tmp_path):
    certs.generate_pki(tmp_path, components=("client",))
    with pytest.raises(AlreadyExistsError, match="client.crt"):
        certs.add_client_certs(tmp_path, ["client"])
    old = (tmp_path / "client.crt").read_bytes()
    certs.add_client_certs(tmp_path, ["client"], force=True)
    assert (tmp_path / "client.crt").read_bytes() != old


def test_add_without_a_ca_names_the_missing_file(tmp_path):
    with pytest.raises(TLSConfigError, match="ca.crt"):
        certs.add_client_certs(tmp_path, ["alice"])
    assert not certs.has_ca(tmp_path)


def test_add_refuses_a_ca_key_that_does_not_match(tmp_path, pki):
    certs.generate_pki(tmp_path, components=())
    shutil.copy(pki.rogue.ca_key, tmp_path / "ca.key")
    with pytest.raises(TLSConfigError, match="does not match"):
        certs.add_client_certs(tmp_path, ["alice"])


def test_add_refuses_a_leaf_posing_as_a_ca(tmp_path, pki):
    shutil.copy(pki.cert("client"), tmp_path / "ca.crt")
    shutil.copy(pki.key("client"), tmp_path / "ca.key")
    with pytest.raises(TLSConfigError, match="not a CA"):
        certs.add_client_certs(tmp_path, ["alice"])


@pytest.mark.parametrize("bad", ["ca", "CA", "a/b", "../up", "", "-lead", "x" * 64, "sp ace", "a..b"])
def test_names_that_cannot_be_files_and_hostnames_are_refused(tmp_path, bad):
    with pytest.raises(ConfigError):
        certs.generate_pki(tmp_path, extra_names=[bad])
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("days", [0, -1, certs.MAX_DAYS + 1])
def test_days_out_of_range_are_refused(tmp_path, days):
    with pytest.raises(ConfigError, match="days"):
        certs.generate_pki(tmp_path, days=days)
