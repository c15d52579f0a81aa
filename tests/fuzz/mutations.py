"""Mutation strategies shared by the wire-format fuzz targets: valid encodings made hostile.

Random bytes alone rarely get past a parser's first check, so each target also draws a valid
encoding and mutates it: bit flips, truncation, bytes spliced in, a stretch replaced by bytes that
are not UTF-8 (often landing inside a string field), a length prefix made to lie, or two encodings
concatenated.
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

NOT_UTF8 = [b"\xff", b"\xfe\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80",
            b"\xc0\xaf", b"\xe2\x82"]


@st.composite
def mutated(draw: st.DrawFn, seeds: st.SearchStrategy[bytes], rounds: int = 3) -> bytes:
    """A seed encoding with up to ``rounds`` mutations applied."""
    data = bytearray(draw(seeds))
    for _ in range(draw(st.integers(0, rounds))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "not_utf8", "length", "splice"]))
        pos = draw(st.integers(0, max(0, len(data))))
        if op == "flip" and data:
            pos = min(pos, len(data) - 1)
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "not_utf8" and data:
            pos = min(pos, len(data) - 1)
            bad = draw(st.sampled_from(NOT_UTF8))
            data[pos:pos + len(bad)] = bad  # same length when it fits: framing stays valid
        elif op == "length" and data:
            pos = min(pos, len(data) - 1)
            data[pos] = draw(st.integers(0, 255))
        elif op == "splice":
            data[pos:pos] = draw(seeds)
    return bytes(data)


def hostile(seeds: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """Random bytes, or a mutated seed (most of the time)."""
    return st.one_of(st.binary(max_size=256), mutated(seeds), mutated(seeds), mutated(seeds))


def batches_of(envelopes: st.SearchStrategy[bytes], join) -> st.SearchStrategy[bytes]:  # noqa: ANN001
    """Batches (``join`` of a list) of up to 6 envelopes, each hostile or not."""
    return st.lists(st.one_of(envelopes, hostile(envelopes)), max_size=6).map(join)


def sampled(values: Sequence[bytes]) -> st.SearchStrategy[bytes]:
    return st.sampled_from(list(values))
