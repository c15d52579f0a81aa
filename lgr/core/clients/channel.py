"""Channel: mTLS gRPC channels to lgr's servers, and one-line reasons when they fail."""

from __future__ import annotations

import grpc

from lgr.core import tls


def secure_channel(address: str, credentials: grpc.ChannelCredentials, server_name: str) -> grpc.aio.Channel:
    """A grpc.aio channel to ``address`` that verifies the server as ``server_name``."""
    return grpc.aio.secure_channel(address, credentials, options=tls.channel_options(server_name))


# grpcio's asyncio API reports a write that meets a stream the server has just ended as INTERNAL
# "Internal error from Core", overwriting the server's own status (grpc/grpc#36066); which one a
# client sees depends on timing, and under load it is often this one.
MASKED_WRITE_FAILURE = "Internal error from Core"
WRITE_ON_ENDED_STREAM = ("the server ended the stream during a write (gRPC hides its status here: "
                         "INTERNAL: Internal error from Core, grpc/grpc#36066)")


def describe(exc: BaseException) -> str:
    """A one-line reason for a gRPC failure: ``CODE: details``."""
    if isinstance(exc, grpc.aio.AioRpcError):
        if exc.code() == grpc.StatusCode.INTERNAL and exc.details() == MASKED_WRITE_FAILURE:
            return WRITE_ON_ENDED_STREAM
        return f"{exc.code().name}: {exc.details()}"
    return str(exc) or type(exc).__name__


def is_handshake_failure(reason: str) -> bool:
    """True when a connection failed in the TLS handshake: retrying will not help."""
    return "handshake" in reason.lower()


def connection_hint(reason: str, what: str, flag_env: str) -> str:
    """A hint for a failure to reach a server: TLS trouble, or nothing listening."""
    if is_handshake_failure(reason):
        return (f"the TLS handshake failed: the {what} and this client need certificates from the "
                "same CA (LGR_CA_FILE, LGR_CERT_FILE, LGR_KEY_FILE)")
    return f"start one with `lgr up`, or point {flag_env} at a running {what}"
