"""Tests for lgr.core.tls: real mTLS gRPC and HTTPS handshakes on 127.0.0.1, and file checks."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ssl
from collections.abc import AsyncIterator

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from lgr.core import tls
from lgr.core._proto.loggregator.v2 import envelope_pb2, ingress_pb2, ingress_pb2_grpc
from lgr.core.errors import ExitCode, TLSConfigError

TIMEOUT = 10.0  # seconds; bounds every network wait below


class RecordingIngress(ingress_pb2_grpc.IngressServicer):
    """An Ingress servicer whose Send keeps every batch it receives."""

    def __init__(self) -> None:
        self.batches: list[envelope_pb2.EnvelopeBatch] = []

    async def Send(self, request, context):
        self.batches.append(request)
        return ingress_pb2.SendResponse()


@contextlib.asynccontextmanager
async def ingress_server(credentials: grpc.ServerCredentials) -> AsyncIterator[tuple[int, RecordingIngress]]:
    server = grpc.aio.server()
    servicer = RecordingIngress()
    ingress_pb2_grpc.add_IngressServicer_to_server(servicer, server)
    port = server.add_secure_port("127.0.0.1:0", credentials)
    assert port
    await server.start()
    try:
        yield port, servicer
    finally:
        await server.stop(None)


async def send_one(port: int, credentials: grpc.ChannelCredentials, server_name: str) -> None:
    batch = envelope_pb2.EnvelopeBatch(batch=[envelope_pb2.Envelope(source_id="tls-test")])
    options = tls.channel_options(server_name)
    async with grpc.aio.secure_channel(f"127.0.0.1:{port}", credentials, options=options) as channel:
        await ingress_pb2_grpc.IngressStub(channel).Send(batch, timeout=TIMEOUT)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT * 2))


def status_of_send(server_creds, client_creds, server_name: str) -> tuple[grpc.StatusCode, int]:
    """Send one batch; return the call's status and how many batches the server received."""

    async def scenario():
        async with ingress_server(server_creds) as (port, servicer):
            try:
                await send_one(port, client_creds, server_name)
            except grpc.aio.AioRpcError as exc:
                return exc.code(), len(servicer.batches)
            return grpc.StatusCode.OK, len(servicer.batches)

    return run(scenario())


@pytest.mark.parametrize(
    ("server", "server_name"),
    [("router", tls.ROUTER_SERVER_NAME), ("agent", tls.AGENT_SERVER_NAME), ("rlp", tls.RLP_SERVER_NAME)],
)
def test_grpc_server_accepts_a_ca_signed_client_under_upstream_names(pki, server, server_name):
    code, received = status_of_send(
        tls.server_credentials(*pki.files(server)), tls.client_credentials(*pki.files("client")), server_name
    )
    assert (code, received) == (grpc.StatusCode.OK, 1)


def test_grpc_server_refuses_a_client_without_a_certificate(pki):
    no_cert = grpc.ssl_channel_credentials(root_certificates=pki.ca.read_bytes())
    code, received = status_of_send(tls.server_credentials(*pki.files("router")), no_cert, "doppler")
    assert (code, received) == (grpc.StatusCode.UNAVAILABLE, 0)


def test_grpc_server_refuses_a_client_signed_by_another_ca(pki):
    rogue = grpc.ssl_channel_credentials(
        root_certificates=pki.ca.read_bytes(),
        private_key=pki.rogue.key("client").read_bytes(),
        certificate_chain=pki.rogue.cert("client").read_bytes(),
    )
    code, received = status_of_send(tls.server_credentials(*pki.files("router")), rogue, "doppler")
    assert (code, received) == (grpc.StatusCode.UNAVAILABLE, 0)


def test_grpc_client_refuses_a_server_signed_by_another_ca(pki):
    rogue_server = tls.server_credentials(*pki.rogue.files("router"))
    code, received = status_of_send(rogue_server, tls.client_credentials(*pki.files("client")), "doppler")
    assert (code, received) == (grpc.StatusCode.UNAVAILABLE, 0)


def test_grpc_client_refuses_a_server_name_the_certificate_lacks(pki):
    code, _ = status_of_send(
        tls.server_credentials(*pki.files("router")), tls.client_credentials(*pki.files("client")), "example.com"
    )
    assert code == grpc.StatusCode.UNAVAILABLE


def test_channel_options_override_the_name_and_allow_10_mib():
    options = dict(tls.channel_options("doppler"))
    assert options == {
        "grpc.ssl_target_name_override": "doppler",
        "grpc.max_send_message_length": 10 * 1024 * 1024,
        "grpc.max_receive_message_length": 10 * 1024 * 1024,
    }
    assert "grpc.ssl_target_name_override" not in dict(tls.channel_options(None))


async def https_exchange(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext, hostname: str) -> bytes:
    """Echo one line through a real TLS server on 127.0.0.1; return what the client read back."""

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            writer.write(await reader.readline())
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, ssl=client_ctx, server_hostname=hostname), TIMEOUT
        )
        try:
            writer.write(b"ping\n")
            await writer.drain()
            return await asyncio.wait_for(reader.readline(), TIMEOUT)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()
    finally:
        server.close()
        await server.wait_closed()


def test_ssl_contexts_complete_a_mutual_handshake(pki):
    server_ctx = tls.server_ssl_context(*pki.files("rlp"))
    client_ctx = tls.client_ssl_context(*pki.files("client"))
    assert server_ctx.verify_mode == ssl.CERT_REQUIRED
    assert run(https_exchange(server_ctx, client_ctx, tls.RLP_SERVER_NAME)) == b"ping\n"


def test_ssl_server_context_refuses_a_client_without_a_certificate(pki):
    server_ctx = tls.server_ssl_context(*pki.files("gateway"))
    no_cert = ssl.create_default_context(cafile=str(pki.ca))
    try:
        echoed = run(https_exchange(server_ctx, no_cert, "localhost"))
    except (ssl.SSLError, ConnectionError):
        echoed = None
    # Under TLS 1.3 the client learns of the refusal only on its first read, as an alert or EOF.
    assert echoed in (None, b"")


def test_ssl_client_context_checks_the_server_name(pki):
    server_ctx = tls.server_ssl_context(*pki.files("gateway"))
    client_ctx = tls.client_ssl_context(*pki.files("client"))
    with pytest.raises(ssl.SSLCertVerificationError):
        run(https_exchange(server_ctx, client_ctx, "example.com"))


def test_tls_files_load_returns_the_pem_bytes(pki):
    material = tls.TLSFiles(*pki.files("router")).load()
    assert material.ca == pki.ca.read_bytes()
    assert material.cert == pki.cert("router").read_bytes()
    assert material.key == pki.key("router").read_bytes()
    assert material.not_after > dt.datetime.now(dt.timezone.utc)


ENV = ("ROUTER_CA_FILE", "ROUTER_CERT_FILE", "ROUTER_KEY_FILE")


def load_error(ca, cert, key, env=ENV) -> TLSConfigError:
    with pytest.raises(TLSConfigError) as info:
        tls.TLSFiles(ca, cert, key, env).load()
    assert info.value.exit_code == ExitCode.TLS
    return info.value


def test_a_missing_file_is_named_with_its_env_var(pki, tmp_path):
    missing = tmp_path / "nope.crt"
    err = load_error(pki.ca, missing, pki.key("router"))
    assert str(missing) in err.message and "ROUTER_CERT_FILE" in err.message
    assert "does not exist" in err.message
    assert "ROUTER_CERT_FILE" in err.hint and "lgr certs gen" in err.hint


def test_an_unset_path_names_the_env_var(pki):
    err = load_error("", pki.cert("router"), pki.key("router"))
    assert err.message == "ROUTER_CA_FILE is not set"


def test_a_directory_is_not_a_file(pki, tmp_path):
    assert "is a directory" in load_error(tmp_path, pki.cert("router"), pki.key("router")).message


def test_garbled_and_swapped_files_are_named(pki, tmp_path):
    garbled = tmp_path / "garbled.pem"
    garbled.write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    assert "no PEM certificate" in load_error(garbled, pki.cert("router"), pki.key("router")).message
    err = load_error(pki.ca, pki.key("router"), pki.cert("router"))
    assert "swapped" in err.message and str(pki.key("router")) in err.message


def test_a_key_from_another_pair_is_refused(pki):
    err = load_error(pki.ca, pki.cert("router"), pki.key("agent"))
    assert "does not match" in err.message and str(pki.key("agent")) in err.message


def test_an_encrypted_key_is_refused(pki, tmp_path):
    key = serialization.load_pem_private_key(pki.key("router").read_bytes(), password=None)
    encrypted = tmp_path / "enc.key"
    encrypted.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw")
    ))
    assert "encrypted" in load_error(pki.ca, pki.cert("router"), encrypted).message


def test_a_cert_from_another_ca_is_refused_at_load(pki):
    err = load_error(pki.ca, pki.rogue.cert("client"), pki.rogue.key("client"))
    assert "not signed by the CA" in err.message
    with pytest.raises(TLSConfigError):
        tls.client_credentials(pki.ca, pki.rogue.cert("client"), pki.rogue.key("client"))


def test_an_expired_cert_is_refused_at_load(pki, tmp_path):
    ca = x509.load_pem_x509_certificate(pki.ca.read_bytes())
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "old")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=10))
        .not_valid_after(now - dt.timedelta(days=1))
        .sign(ca_key, hashes.SHA256())
    )
    (tmp_path / "old.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "old.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ))
    err = load_error(pki.ca, tmp_path / "old.crt", tmp_path / "old.key")
    assert "expired" in err.message and "--force" in err.hint


def test_builders_report_bad_files_as_tls_config_errors(pki, tmp_path):
    for build in (tls.server_credentials, tls.client_credentials, tls.server_ssl_context, tls.client_ssl_context):
        with pytest.raises(TLSConfigError, match="does not exist"):
            build(tmp_path / "missing-ca.crt", pki.cert("router"), pki.key("router"))
