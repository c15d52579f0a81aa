"""gRPC server plumbing shared by every component: mTLS, upstream's limits, binding to port 0."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from lgr.core.errors import UnavailableError
from lgr.core.metrics import Counter
from lgr.core.tls import MAX_MESSAGE_BYTES  # upstream's grpc.MaxRecvMsgSize on every server

SERVER_OPTIONS: list[tuple[str, int]] = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    # upstream's keepalive.EnforcementPolicy{MinTime: 10s, PermitWithoutStream: true}
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.so_reuseport", 0),
]


def identity(data: bytes) -> bytes:
    """A (de)serializer that keeps messages as bytes, so hot paths skip protobuf objects."""
    return data


async def start_server(
    handlers: Sequence[grpc.GenericRpcHandler],
    host: str,
    port: int,
    credentials: grpc.ServerCredentials,
    component: str,
) -> tuple[grpc.aio.Server, int]:
    """Start a grpc.aio server with ``handlers`` on host:port (0 = any free port).

    Returns the server and the port it bound. Raises UnavailableError naming the
    component and address when the port cannot be bound.
    """
    server = grpc.aio.server(options=SERVER_OPTIONS)
    for handler in handlers:
        server.add_generic_rpc_handlers((handler,))
    address = f"{host}:{port}"
    try:
        bound = server.add_secure_port(address, credentials)
    except RuntimeError as exc:
        bound = 0
        reason = str(exc)
    else:
        reason = "address in use or not permitted"
    if not bound:
        await server.stop(None)
        raise UnavailableError(
            f"{component} could not bind {address}: {reason}",
            hint="choose another port, or stop whatever is listening there",
        )
    await server.start()
    return server, bound


def format_address(host: str, port: int) -> str:
    """host:port, with IPv6 hosts in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def parse_request(message_cls: Any, data: bytes, context: grpc.aio.ServicerContext,
                        refused: Counter | None = None) -> Any:
    """``message_cls.FromString(data)``; a message that does not parse ends the call with
    INVALID_ARGUMENT naming the message type (gRPC's own deserializer failure says INTERNAL),
    counted in ``refused`` when given."""
    try:
        return message_cls.FromString(data)
    except DecodeError as exc:
        if refused is not None:
            refused.inc()
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                            f"malformed {message_cls.DESCRIPTOR.name}: {exc}")
