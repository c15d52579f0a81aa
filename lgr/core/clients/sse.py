"""SSE decoder: splits a server-sent events byte stream into (event, data) pairs, as the spec reads it.

Feed it the body in chunks of any size; it yields each complete event once its blank line has
arrived. Lines end with ``\\n``, ``\\r\\n`` or ``\\r``; ``field: value`` loses one space after the
colon; several ``data`` lines are joined with ``\\n``; lines starting with ``:`` are comments;
``id`` and ``retry`` are ignored; an event with no ``data`` line is not dispatched (the spec's
rule). An event larger than ``max_event_bytes`` raises :class:`EventTooLarge`, so a server that
never ends a line cannot make the client buffer without bound.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

MAX_EVENT_BYTES = 64 * 1024 * 1024  # far above the gateway's largest batch (10 MiB of protobuf)
_LINE_END = re.compile(rb"\r\n|\r|\n")


class EventTooLarge(ValueError):
    """An event grew past the decoder's limit without ending."""


class SseDecoder:
    """Incremental decoder; :meth:`feed` returns the events completed by a chunk."""

    def __init__(self, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self.max_event_bytes = max_event_bytes
        self._parts: list[bytes] = []  # the line still being received
        self._partial = 0  # its length so far
        self._after_cr = False  # the last chunk ended with \r: a \n starting the next belongs to it
        self._event = ""
        self._data: list[str] = []
        self._size = 0

    def feed(self, chunk: bytes) -> Iterator[tuple[str, str]]:
        """Yield (event type, data) for every event the chunk completes ("" type: a message)."""
        if self._after_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        self._after_cr = False
        start = 0
        for match in _LINE_END.finditer(chunk):
            piece = chunk[start:match.start()]
            line = b"".join([*self._parts, piece]) if self._parts else piece
            self._parts, self._partial, start = [], 0, match.end()
            self._after_cr = match.group() == b"\r" and start == len(chunk)
            event = self._line(line)
            if event is not None:
                yield event
        if start < len(chunk):
            self._parts.append(chunk[start:])
            self._partial += len(chunk) - start
        if self._size + self._partial > self.max_event_bytes:
            raise EventTooLarge(f"a server-sent event grew past {self.max_event_bytes} bytes")

    def _line(self, line: bytes) -> tuple[str, str] | None:
        if not line:
            event, data = self._event, self._data
            self._event, self._data, self._size = "", [], 0
            return (event, "\n".join(data)) if data else None
        if line.startswith(b":"):
            return None
        name, sep, value = line.partition(b":")
        if sep and value.startswith(b" "):
            value = value[1:]
        text = value.decode("utf-8", "replace")
        if name == b"data":
            self._data.append(text)
            self._size += len(line)
        elif name == b"event":
            self._event = text
        return None
