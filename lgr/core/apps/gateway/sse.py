"""SSE frames: the server-sent events the gateway writes, byte for byte as upstream's read.go.

- a batch: ``data: <EnvelopeBatch as Go protojson, EmitUnpopulated>\\n\\n``;
- a heartbeat after an idle interval: ``event: heartbeat\\ndata: <unix seconds>\\n\\n``;
- at STREAM_TIMEOUT: ``event: closing\\ndata: closing due to stream timeout\\n\\n``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from lgr.core import protojson
from lgr.core._proto.loggregator.v2 import envelope_pb2

CONTENT_TYPE = "text/event-stream"
HEADERS = {"Content-Type": CONTENT_TYPE, "Cache-Control": "no-cache", "Connection": "keep-alive"}
CLOSING = b"event: closing\ndata: closing due to stream timeout\n\n"


def batch_frame(envelopes: Iterable[envelope_pb2.Envelope]) -> bytes:
    """One ``data:`` event holding the batch."""
    return b"data: " + protojson.batch_json(envelopes).encode("utf-8") + b"\n\n"


def heartbeat_frame(now: float | None = None) -> bytes:
    """A heartbeat event carrying the Unix time in whole seconds."""
    seconds = int(time.time() if now is None else now)
    return b"event: heartbeat\ndata: %d\n\n" % seconds
