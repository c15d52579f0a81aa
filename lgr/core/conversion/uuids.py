"""Dropsonde UUIDs: the {low, high} pair to and from the 8-4-4-4-12 string, in upstream's order.

Upstream writes ``low`` then ``high`` as little-endian bytes and prints them as hex, so the
string's first 16 hex digits are ``low``'s bytes, least significant first.
"""

from __future__ import annotations

import re

from lgr.core._proto.events import uuid_pb2

ZERO = "00000000-0000-0000-0000-000000000000"
_HEX32 = re.compile(r"[0-9a-fA-F]{32}")


def uuid_to_string(uuid: uuid_pb2.UUID) -> str:
    """Format a dropsonde UUID; an unset or zero UUID gives :data:`ZERO`."""
    raw = uuid.low.to_bytes(8, "little") + uuid.high.to_bytes(8, "little")
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def uuid_from_string(text: str) -> uuid_pb2.UUID | None:
    """Parse a 36-character hex UUID into a dropsonde UUID; anything else gives None."""
    if len(text) != 36:
        return None
    digits = text.replace("-", "")
    if not _HEX32.fullmatch(digits):
        return None
    raw = bytes.fromhex(digits)
    return uuid_pb2.UUID(
        low=int.from_bytes(raw[:8], "little"), high=int.from_bytes(raw[8:], "little")
    )
