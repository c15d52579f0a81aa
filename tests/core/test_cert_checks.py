"""Start-up refusals of certificates a peer would refuse later, and per-role certificates in real
handshakes: a client certificate cannot stand in for a router."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from lgr.core import probe, tls
from lgr.core._proto.loggregator.v2 import envelope_pb2, ingress_pb2, ingress_pb2_grpc
from lgr.core.errors import ExitCode, TLSConfigError

ENV = ("ROUTER_CA_FILE", "ROUTER_CERT_FILE", "ROUTER_KEY_FILE")
TIMEOUT = 10.0
NOW = dt.datetime.now(dt.timezone.utc)


def load_pki_ca(pki):
    ca = x509.load_pem_x509_certificate(pki.ca.read_bytes())
    return ca, serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)


def issue(tmp_path: Path, name: str, issuer, issuer_key, *, is_ca: bool = False,
          not_before: dt.datetime | None = None, not_after: dt.datetime | None = None,
          usages=(ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH)):
    """Write ``name``.crt / .key signed by (issuer, issuer_key); return (cert, key, crt path, key path)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder().subject_name(subject)
        .issuer_name(issuer.subject if issuer is not None else subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - dt.timedelta(days=1))
        .not_valid_after(not_after or NOW + dt.timedelta(days=10))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("doppler")]), critical=False)
    )
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
    cert = builder.sign(issuer_key if issuer_key is not None else key, hashes.SHA256())
    crt, key_file = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert, key, crt, key_file


def load_error(ca, cert, key, usage=None) -> TLSConfigError:
    with pytest.raises(TLSConfigError) as info:
        tls.TLSFiles(ca, cert, key, ENV).load(usage)
    assert info.value.exit_code == ExitCode.TLS
    return info.value


def test_a_not_yet_valid_certificate_is_refused(pki, tmp_path):
    ca, ca_key = load_pki_ca(pki)
    _, _, crt, key = issue(tmp_path, "future", ca, ca_key, not_before=NOW + dt.timedelta(days=2))
    err = load_error(pki.ca, crt, key)
    assert "not valid until" in err.message and "ROUTER_CERT_FILE" in err.message


def chain_through(pki, tmp_path: Path, *, middle_is_ca: bool) -> tuple[Path, Path]:
    """(chain file, key file) of a leaf signed by a middle certificate signed by the pki's CA."""
    ca, ca_key = load_pki_ca(pki)
    middle, middle_key, middle_crt, _ = issue(tmp_path, "middle", ca, ca_key, is_ca=middle_is_ca)
    _, _, crt, key = issue(tmp_path, "leaf", middle, middle_key)
    chain = tmp_path / "chain.crt"
    chain.write_bytes(crt.read_bytes() + middle_crt.read_bytes())
    return chain, key


def test_a_chain_signed_by_a_leaf_is_refused(pki, tmp_path):
    err = load_error(pki.ca, *chain_through(pki, tmp_path, middle_is_ca=False))
    assert "is a leaf (CA:FALSE)" in err.message and "ROUTER_CERT_FILE" in err.message


def test_a_chain_through_a_real_intermediate_ca_is_accepted(pki, tmp_path):
    chain, key = chain_through(pki, tmp_path, middle_is_ca=True)
    assert tls.TLSFiles(pki.ca, chain, key, ENV).load("server").cert == chain.read_bytes()


def test_a_leaf_given_as_the_ca_file_is_refused_with_a_hint_naming_the_env_var(pki):
    err = load_error(pki.cert("agent"), pki.cert("router"), pki.key("router"))
    assert "not a CA certificate" in err.message and "ROUTER_CA_FILE" in err.message
    assert "ROUTER_CA_FILE" in err.hint


def test_an_expired_ca_is_refused(pki, tmp_path):
    old_ca, old_key, old_crt, _ = issue(tmp_path, "oldca", None, None, is_ca=True, usages=(),
                                        not_before=NOW - dt.timedelta(days=9), not_after=NOW - dt.timedelta(days=1))
    _, _, crt, key = issue(tmp_path, "leaf", old_ca, old_key)
    assert "expired" in load_error(old_crt, crt, key).message


def test_a_cert_signed_by_another_ca_is_refused(pki):
    assert "not signed by the CA" in load_error(pki.ca, pki.rogue.cert("client"), pki.rogue.key("client")).message


def test_the_client_certificate_cannot_be_loaded_as_a_server_certificate(pki):
    err = load_error(pki.ca, pki.cert("client"), pki.key("client"), usage="server")
    assert "is not a server certificate" in err.message and "ROUTER_CERT_FILE" in err.hint
    for build in (tls.server_credentials, tls.server_ssl_context):
        with pytest.raises(TLSConfigError, match="not a server certificate"):
            build(*pki.files("client"))
    with pytest.raises(TLSConfigError, match="not a server certificate"):
        tls.https_server_context(pki.cert("client"), pki.key("client"), ("HTTP_CERT_PATH", "HTTP_KEY_PATH"))


def test_the_router_certificate_cannot_be_loaded_as_a_client_certificate(pki):
    with pytest.raises(TLSConfigError, match="not a client certificate"):
        tls.client_credentials(*pki.files("router"))


def test_a_not_yet_valid_https_certificate_is_refused(pki, tmp_path):
    ca, ca_key = load_pki_ca(pki)
    _, _, crt, key = issue(tmp_path, "future", ca, ca_key, not_before=NOW + dt.timedelta(days=2))
    with pytest.raises(TLSConfigError, match="not valid until"):
        tls.https_server_context(crt, key, ("HTTP_CERT_PATH", "HTTP_KEY_PATH"))


async def _handshake(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext, name: str) -> bool:
    """Serve one TLS connection with ``server_ctx``; True when ``client_ctx`` completes a handshake
    verifying ``name`` (run in a thread: probe.tls_accepts blocks)."""
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0, ssl=server_ctx)
    try:
        port = server.sockets[0].getsockname()[1]
        return await asyncio.to_thread(probe.tls_accepts, f"127.0.0.1:{port}", client_ctx, name, TIMEOUT)
    finally:
        server.close()


def raw_server_context(pki, name: str) -> ssl.SSLContext:
    """A server context over ``name``'s certificate built without lgr's checks, as an impostor would."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(pki.cert(name)), str(pki.key(name)))
    return context


def test_a_client_certificate_cannot_serve_as_a_router(pki):
    client_ctx = probe.grpc_client_context(*map(str, pki.files("agent")))
    run = lambda name, host: asyncio.run(asyncio.wait_for(  # noqa: E731
        _handshake(raw_server_context(pki, name), client_ctx, host), TIMEOUT * 2))
    assert run("router", tls.ROUTER_SERVER_NAME) is True, "the router's own certificate serves"
    assert run("client", tls.ROUTER_SERVER_NAME) is False, "client.crt names no doppler"
    # Even with the name check off, its usage (clientAuth only) keeps it from serving at all.
    lax = probe.grpc_client_context(*map(str, pki.files("agent")))
    lax.check_hostname = False
    assert asyncio.run(_handshake(raw_server_context(pki, "client"), lax, "anything")) is False
    assert asyncio.run(_handshake(raw_server_context(pki, "router"), lax, "anything")) is True


class _Ingress(ingress_pb2_grpc.IngressServicer):
    async def Send(self, request, context):
        return ingress_pb2.SendResponse()


async def _send_through_grpc(server_creds: grpc.ServerCredentials, client_creds, name: str) -> grpc.StatusCode:
    server = grpc.aio.server()
    ingress_pb2_grpc.add_IngressServicer_to_server(_Ingress(), server)
    port = server.add_secure_port("127.0.0.1:0", server_creds)
    await server.start()
    try:
        async with grpc.aio.secure_channel(f"127.0.0.1:{port}", client_creds,
                                           options=tls.channel_options(name)) as channel:
            try:
                await ingress_pb2_grpc.IngressStub(channel).Send(envelope_pb2.EnvelopeBatch(), timeout=3)
            except grpc.aio.AioRpcError as exc:
                return exc.code()
            return grpc.StatusCode.OK
    finally:
        await server.stop(None)


def test_a_grpc_client_verifying_doppler_refuses_a_server_presenting_client_crt(pki):
    m = tls.TLSFiles(*pki.files("client")).load()  # loaded without the server-usage check, as an impostor
    impostor = grpc.ssl_server_credentials([(m.key, m.cert)], root_certificates=m.ca, require_client_auth=True)
    agent = tls.client_credentials(*pki.files("agent"))
    assert asyncio.run(_send_through_grpc(impostor, agent, tls.ROUTER_SERVER_NAME)) == grpc.StatusCode.UNAVAILABLE
    real = tls.server_credentials(*pki.files("router"))
    assert asyncio.run(_send_through_grpc(real, agent, tls.ROUTER_SERVER_NAME)) == grpc.StatusCode.OK
