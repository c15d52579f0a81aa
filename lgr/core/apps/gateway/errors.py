"""Gateway HTTP errors: upstream rlp-gateway's JSON error bodies, statuses and headers, exactly.

Upstream writes each with Go's ``http.Error(w, jsonError, code)``: the body is the
``json.Encoder`` line (``{"message":...,"error":...}`` and a newline) plus the newline
``http.Error`` adds, as ``text/plain; charset=utf-8`` with ``X-Content-Type-Options: nosniff``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

TEXT_PLAIN = "text/plain; charset=utf-8"
ERROR_HEADERS = {"Content-Type": TEXT_PLAIN, "X-Content-Type-Options": "nosniff"}


@dataclass(frozen=True)
class JsonError(Exception):
    """One of upstream's named errors: HTTP ``status``, ``name`` (the "error" key), ``message``."""

    status: int
    name: str
    message: str

    @property
    def body(self) -> bytes:
        """The exact response body upstream sends."""
        line = json.dumps({"message": self.message, "error": self.name}, separators=(",", ":"))
        return (line + "\n\n").encode()


METHOD_NOT_ALLOWED = JsonError(405, "method_not_allowed", "method not allowed")
EMPTY_QUERY = JsonError(400, "empty_query", "query cannot be empty")
MISSING_TYPE = JsonError(400, "missing_envelope_type", "query must provide at least one envelope type")
MISSING_COUNTER_NAME = JsonError(400, "missing_counter_name", "counter.name is invalid without value")
MISSING_GAUGE_NAME = JsonError(400, "missing_gauge_name", "gauge.name is invalid without value")
STREAMING_UNSUPPORTED = JsonError(500, "streaming_unsupported", "request does not support streaming")
NOT_FOUND = JsonError(404, "not_found", "resource not found")


# lgr's own refusals (upstream has no stream caps, and answers 200 with an empty stream when the
# reverse log proxy refuses): upstream's body format, new names.
def too_many_streams(limit: int) -> JsonError:
    """429: LGR_GATEWAY_MAX_STREAMS streams are open."""
    return JsonError(429, "too_many_streams",
                     f"stream limit reached: the gateway serves at most {limit} streams")


def too_many_token_streams(limit: int) -> JsonError:
    """429: LGR_GATEWAY_MAX_STREAMS_PER_TOKEN streams of this token are open."""
    return JsonError(429, "too_many_streams_for_token",
                     f"stream limit reached: at most {limit} streams per token")


def provider_refused(code: str, details: str) -> JsonError:
    """503 when the reverse log proxy has no stream slot left, 502 for its other refusals."""
    if code == "RESOURCE_EXHAUSTED":
        return JsonError(503, "logs_provider_exhausted",
                         f"the reverse log proxy refused the stream: {details}")
    return JsonError(502, "logs_provider_error",
                     f"the reverse log proxy refused the stream: {code}: {details}")

# Go's http.NotFound, for paths other than /v2/read.
PAGE_NOT_FOUND_BODY = b"404 page not found\n"
