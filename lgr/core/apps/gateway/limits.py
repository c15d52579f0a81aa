"""Stream limits: how many /v2/read streams the gateway holds open, in all and per token.

Each stream holds one of the reverse log proxy's MAX_EGRESS_STREAMS slots, so without a cap one
client could take every slot and lock out every other consumer (``lgr tail`` included). Tokens are
kept as digests: the table never holds a bearer token itself.
"""

from __future__ import annotations

import hashlib

from lgr.core.apps.gateway import errors


class StreamLimits:
    """Counts open streams in all and per token; :meth:`acquire` refuses past either cap."""

    def __init__(self, max_streams: int, max_per_token: int) -> None:
        self.max_streams = max_streams
        self.max_per_token = max_per_token
        self.open = 0
        self._per_token: dict[bytes, int] = {}

    @staticmethod
    def key(authorization: str | None) -> bytes:
        """The table key of a request's Authorization header (its token, scheme and case aside)."""
        token = (authorization or "").strip()
        scheme, _, rest = token.partition(" ")
        if rest and scheme.lower() == "bearer":
            token = rest.strip()
        return hashlib.sha256(token.encode("utf-8", "replace")).digest()

    def acquire(self, key: bytes) -> errors.JsonError | None:
        """Take a stream for ``key``; the refusal (429) instead when a cap is reached."""
        if self.open >= self.max_streams:
            return errors.too_many_streams(self.max_streams)
        held = self._per_token.get(key, 0)
        if held >= self.max_per_token:
            return errors.too_many_token_streams(self.max_per_token)
        self.open += 1
        self._per_token[key] = held + 1
        return None

    def release(self, key: bytes) -> None:
        """Give back a stream taken by :meth:`acquire`."""
        self.open -= 1
        held = self._per_token.get(key, 0) - 1
        if held > 0:
            self._per_token[key] = held
        else:
            self._per_token.pop(key, None)

    def tokens(self) -> int:
        """How many tokens hold a stream now."""
        return len(self._per_token)
