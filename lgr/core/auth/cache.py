"""Answer cache: remembers positive UAA/CAPI answers for a short time, bounded in size.

Keys are hashes of the token (never the token itself) plus what was asked. Only answers that
grant access are kept, as log-cache's CAPI client does (a minute by default), so a refusal is
always re-checked and a revoked grant lasts at most ``ttl`` seconds.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

MAX_ENTRIES = 10000


class AnswerCache:
    """A TTL map; ``ttl`` 0 disables it. Oldest entries go first when it is full."""

    def __init__(self, ttl: float, max_entries: int = MAX_ENTRIES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._items: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()

    def get(self, key: Hashable) -> Any | None:
        """The cached answer for ``key``, or None when absent or expired."""
        item = self._items.get(key)
        if item is None:
            return None
        expires, value = item
        if self._clock() >= expires:
            del self._items[key]
            return None
        return value

    def put(self, key: Hashable, value: Any) -> None:
        """Remember ``value`` for ``ttl`` seconds."""
        if self.ttl <= 0:
            return
        self._items[key] = (self._clock() + self.ttl, value)
        self._items.move_to_end(key)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
