"""CRC-64/ECMA: Go's ``hash/crc64`` checksum with the ECMA table, which upstream routes by.

Upstream's router sends a counter or gauge in a deterministic shard group to member
``crc64(name) % n``; computing the same checksum keeps a metric name on the same member when
upstream and lgr routers serve one group.
"""

from __future__ import annotations

from functools import lru_cache

_MASK64 = (1 << 64) - 1
_ECMA_REFLECTED = 0xC96C5795D7870F42


def _make_table(poly: int) -> tuple[int, ...]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _make_table(_ECMA_REFLECTED)


@lru_cache(maxsize=4096)
def crc64_ecma(text: str) -> int:
    """``crc64.Checksum([]byte(text), crc64.MakeTable(crc64.ECMA))`` (the CRC-64/XZ variant).

    Cached: metric names are few and repeat on every envelope.
    """
    crc = _MASK64
    table = _TABLE
    for byte in text.encode():
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ _MASK64
