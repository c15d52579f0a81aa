"""Multipart bodies: v1 envelopes as ``multipart/x-protobuf``, byte for byte as Go writes them.

Upstream's recentlogs and containermetrics answers come from Go's ``mime/multipart.Writer`` with
``CreatePart(nil)``: a random 60-hex-digit boundary, parts without headers, and ``Close``'s
``"\r\n--boundary--\r\n"`` always, even after no part. Clients (noaa, the cf CLI) parse that
with any multipart reader.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

CONTENT_TYPE = "multipart/x-protobuf"


def new_boundary() -> str:
    """A boundary like Go's: 30 random bytes in hex."""
    return secrets.token_hex(30)


def content_type(boundary: str) -> str:
    """The Content-Type header value for ``boundary``."""
    return f"{CONTENT_TYPE}; boundary={boundary}"


def multipart_body(parts: Iterable[bytes], boundary: str) -> bytes:
    """``parts`` as a multipart body with ``boundary``, each part with no headers."""
    dash = f"--{boundary}".encode()
    chunks: list[bytes] = []
    for part in parts:
        chunks.append((b"\r\n" if chunks else b"") + dash + b"\r\n\r\n")
        chunks.append(part)
    chunks.append(b"\r\n" + dash + b"--\r\n")
    return b"".join(chunks)


def parse_multipart(body: bytes, boundary: str) -> list[bytes]:
    """The parts of a body made by :func:`multipart_body` (or Go), for tests and clients."""
    dash = f"--{boundary}".encode()
    parts = []
    for piece in body.split(dash)[1:]:
        if piece.startswith(b"--"):
            break
        head, _, data = piece.partition(b"\r\n\r\n")
        if data.endswith(b"\r\n"):
            data = data[:-2]
        parts.append(data)
    return parts
