"""One read of the store as log cache's Egress.Read answers it, for the HTTP and the gRPC API.

The checks and messages are upstream's: a start after the end, a limit over 1000 or below zero,
and a name filter that is not a regular expression are refused with :class:`ReadError` (which
upstream returns as a plain error: gRPC status UNKNOWN, HTTP 500 with code 2 through its
gateway). An end of 0 means now, a limit of 0 means 100, and ANY (0) among the envelope types
adds nothing to the others.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from lgr.core import namefilter
from lgr.core.apps.cache.store import Store

MAX_LIMIT, DEFAULT_LIMIT = 1000, 100


class ReadError(Exception):
    """A read the store refuses; the message is upstream's."""


@dataclass
class ReadQuery:
    """ReadRequest's fields (times in ns, ``envelope_types`` as EnvelopeType numbers)."""

    source_id: str
    start_time: int = 0
    end_time: int = 0
    limit: int = 0
    envelope_types: Iterable[int] = field(default_factory=list)
    descending: bool = False
    name_filter: str = ""


def read(store: Store, q: ReadQuery) -> list[bytes]:
    """The serialized envelopes ``q`` selects; ReadError when the query is refused."""
    start, end, limit = q.start_time, q.end_time, q.limit
    if end != 0 and start > end:
        raise ReadError(f"StartTime ({start}) must be before EndTime ({end})")
    if limit > MAX_LIMIT:
        raise ReadError(f"Limit ({limit}) must be 1000 or less")
    if limit < 0:
        raise ReadError(f"Limit ({limit}) must be greater than zero")
    name_filter = None
    if q.name_filter:
        try:
            name_filter = namefilter.compile_filter(q.name_filter)
        except namefilter.RegexError as exc:
            raise ReadError(f"Name filter must be a valid regular expression: {exc}") from None
    kinds = [k for k in q.envelope_types if k != 0]
    return store.read(q.source_id, start, end or time.time_ns(), kinds, limit or DEFAULT_LIMIT,
                      q.descending, name_filter)
