"""Go's number parsing, formatting and conversions, as upstream's conversion code applies them.

Upstream converts with ``strconv``, ``fmt`` and Go type conversions; Python's ``int()``,
``"%f"`` and ``int(float)`` differ at the edges (whitespace, underscores, non-ASCII digits,
NaN spelling, wrap-around), and a drop-in replacement has to give the same answers.
"""

from __future__ import annotations

import math
import re

_DECIMAL = re.compile(r"[+-]?[0-9]+")

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
_UINT64 = 1 << 64


def parse_int(text: str) -> int:
    """``strconv.ParseInt(text, 10, 64)``, with 0 for any error as upstream falls back to."""
    if not _DECIMAL.fullmatch(text):
        return 0
    value = int(text)
    return value if INT64_MIN <= value <= INT64_MAX else 0


def parse_int32_clamped(text: str) -> int:
    """The value of ``strconv.ParseInt(text, 10, 32)`` with its error ignored.

    A syntax error gives 0; an out-of-range number gives the nearest int32 bound, which is
    what ParseInt returns alongside a range error.
    """
    if not _DECIMAL.fullmatch(text):
        return 0
    return max(INT32_MIN, min(INT32_MAX, int(text)))


def wrap_int32(value: int) -> int:
    """Go's ``int32(v)`` on an integer: keep the low 32 bits, two's complement."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value > INT32_MAX else value


def float_to_int64(value: float) -> int:
    """Go's ``int64(f)`` on amd64: truncate; NaN and out-of-range give math.MinInt64."""
    if math.isfinite(value):
        truncated = int(value)
        if INT64_MIN <= truncated <= INT64_MAX:
            return truncated
    return INT64_MIN


def float_to_uint64(value: float) -> int:
    """Go's ``uint64(f)`` on amd64: truncate; negatives wrap; NaN and overflow give 1<<63.

    Go leaves out-of-range conversions implementation-defined; these are amd64's answers.
    """
    if math.isfinite(value):
        truncated = int(value)
        if 0 <= truncated < _UINT64:
            return truncated
        if INT64_MIN < truncated < 0:
            return truncated % _UINT64
    return 1 << 63


def format_f(value: float) -> str:
    """``fmt.Sprintf("%f", value)``: six decimals, with Go's spelling of NaN and infinities."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return "%f" % value
