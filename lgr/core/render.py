"""Render: envelopes as ``cf tail`` prints them, pretty lines and ``--json`` entries.

The format is upstream's log-cache-cli, as tests/vectors/tail_format.json pins it::

       2023-11-14T22:13:20.12+0000 [APP/PROC/WEB/0] OUT hello world
       2023-11-14T22:13:20.12+0000 [my-source/3] COUNTER requests:105

- the timestamp is Go's ``2006-01-02T15:04:05.00-0700`` in local time, fraction truncated;
- ``[src/instance]`` drops ``/instance`` when the instance id is empty; for logs ``src`` is the
  ``source_type`` tag (then the deprecated tag's text, then ``unknown``); for the other kinds
  ``cf tail`` shows its SOURCE argument. ``lgr tail`` has no such argument and streams many
  sources at once, so callers pass ``source=None`` and get the envelope's own source_id;
- an envelope with no message prints as Go's single-line prototext, with no header;
- one trailing newline is trimmed and one added (log-cache-cli's lineWriter).

Payloads are bytes and stay bytes: an invalid UTF-8 payload prints its raw bytes, as upstream.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from lgr.core import protojson, prototext
from lgr.core._proto.loggregator.v2 import envelope_pb2

DEFAULT_NEW_LINE = "\u2028"  # cf tail's --new-line with no value

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
# encoding/json escapes these for HTML safety, and writes invalid UTF-8 as \ufffd.
_GO_JSON_ESCAPES = re.compile("[<>&\u2028\u2029\udc80-\udcff]")
_UNICODE_ESCAPE = re.compile(r"\\(?:u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|x[0-9a-fA-F]{2})")


@dataclass(frozen=True)
class Line:
    """One rendered envelope: ``header`` (indent, timestamp, ``[src/instance] ``), ``label``
    (OUT, ERR, COUNTER, GAUGE, TIMER, EVENT; "" for an envelope without a message) and ``body``."""

    header: str
    label: str
    body: bytes

    def to_bytes(self) -> bytes:
        """The exact bytes cf tail writes, ending in exactly one newline."""
        prefix = f"{self.header}{self.label} " if self.label else self.header
        data = prefix.encode("utf-8") + self.body
        return (data[:-1] if data.endswith(b"\n") else data) + b"\n"

    def text(self) -> str:
        """The line as text without its newline; invalid UTF-8 becomes U+FFFD."""
        return self.to_bytes()[:-1].decode("utf-8", errors="replace")


def format_timestamp(ns: int, tz: dt.tzinfo | None = None) -> str:
    """Unix nanoseconds as Go's ``2006-01-02T15:04:05.00-0700``, in ``tz`` (default: local)."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    when = _EPOCH + dt.timedelta(seconds=seconds)
    when = when.astimezone(tz) if tz is not None else when.astimezone()
    return f"{when:%Y-%m-%dT%H:%M:%S}.{fraction // 10_000_000:02d}{when:%z}"


def source_type(env: envelope_pb2.Envelope) -> str:
    """The ``src`` cf tail shows for a log: tags, then deprecated tags' text, then "unknown"."""
    if "source_type" in env.tags:
        return env.tags["source_type"]
    if "source_type" in env.deprecated_tags:
        return env.deprecated_tags["source_type"].text
    return "unknown"


def parse_new_line(value: str) -> str:
    """The character ``--new-line=VALUE`` names: one character, or an escape like ``\\u00B6``."""
    if _UNICODE_ESCAPE.fullmatch(value) and int(value[2:], 16) <= 0x10FFFF:
        value = chr(int(value[2:], 16))
    if len(value) == 1 and not "\ud800" <= value <= "\udfff":
        return value
    raise ValueError(f"not a single character or \\uXXXX escape: {value!r}")


def go_float(value: float) -> str:
    """A double as Go's ``%f``: six decimals, ``NaN``, ``+Inf``, ``-Inf``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:f}"


def pretty(
    env: envelope_pb2.Envelope,
    *,
    source: str | None = None,
    new_line: str | None = None,
    tz: dt.tzinfo | None = None,
) -> Line:
    """Render ``env`` as cf tail's pretty line.

    ``source`` is what non-log kinds show in brackets (cf tail's SOURCE argument); None shows
    the envelope's source_id. ``new_line`` is a character replaced by "\\n" in log payloads.
    """
    kind = env.WhichOneof("message")
    if kind is None:
        return Line("", "", prototext.message_text(env).encode("utf-8"))
    src = source_type(env) if kind == "log" else (env.source_id if source is None else source)
    instance = f"/{env.instance_id}" if env.instance_id else ""
    header = f"   {format_timestamp(env.timestamp, tz)} [{src}{instance}] "
    if kind == "log":
        payload = env.log.payload
        if new_line:
            payload = payload.replace(new_line.encode("utf-8"), b"\n")
        return Line(header, "ERR" if env.log.type == envelope_pb2.Log.ERR else "OUT", payload)
    if kind == "counter":
        body = f"{env.counter.name}:{env.counter.total}"
        return Line(header, "COUNTER", body.encode("utf-8"))
    if kind == "gauge":
        entries = sorted(
            f"{name}:{go_float(m.value)} {m.unit}" for name, m in env.gauge.metrics.items()
        )
        return Line(header, "GAUGE", " ".join(entries).encode("utf-8"))
    if kind == "timer":
        millis = (env.timer.stop - env.timer.start) / 1e6
        return Line(header, "TIMER", f"{env.timer.name} {go_float(millis)} ms".encode("utf-8"))
    body = f"{env.event.title}:{env.event.body}"
    return Line(header, "EVENT", body.encode("utf-8"))


def log_entry_json(env: envelope_pb2.Envelope) -> str:
    """A log envelope as cf tail's ``--json`` struct (Go encoding/json): no log type, the
    payload as lossy text, deprecated tags as prototext and left out when empty, ``tags``
    null when empty, HTML characters escaped."""
    entry: dict[str, object] = {
        "timestamp": str(env.timestamp),
        "source_id": env.source_id,
        "instance_id": env.instance_id,
    }
    if env.deprecated_tags:
        entry["deprecated_tags"] = {
            k: prototext.message_text(v) for k, v in sorted(env.deprecated_tags.items())
        }
    entry["tags"] = dict(sorted(env.tags.items())) or None
    # surrogateescape turns each byte of an invalid sequence into its own lone surrogate, and
    # Go writes one \ufffd escape per such byte.
    entry["log"] = {"payload": env.log.payload.decode("utf-8", errors="surrogateescape")}
    text = json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
    return _GO_JSON_ESCAPES.sub(lambda m: _go_escape(m.group()), text)


def json_entry(env: envelope_pb2.Envelope) -> str:
    """One envelope as cf tail ``--json`` prints it: the log struct for logs, protojson else."""
    if env.WhichOneof("message") == "log":
        return log_entry_json(env)
    return protojson.envelope_json(env)


def json_batch(envs: Iterable[envelope_pb2.Envelope]) -> str:
    """cf tail's non-follow ``--json`` output line: ``{"batch":[...]}``."""
    return '{"batch":[' + ",".join(json_entry(e) for e in envs) + "]}"


def _go_escape(ch: str) -> str:
    return "\\ufffd" if "\udc80" <= ch <= "\udcff" else f"\\u{ord(ch):04x}"
