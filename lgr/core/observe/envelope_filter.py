"""Envelope filter: which envelopes the stream view shows, by source id, type, name and regex.

- source ids: exact ids, or shell-style patterns (``app-*``); any of them matches;
- types: log, counter, gauge, timer, event; any of them matches;
- name: case-insensitive substring of a counter's or timer's name, of any of a gauge's metric
  names, or of an event's title;
- regex: searched in the line as `lgr tail` renders it (lgr.core.render), as ``--include`` does
  (RE2 syntax, lgr.core.regex).

The first three read fields only; the regex renders the envelope, which costs ~10x more, so
the feed applies filters to a sample of the stream when it is fast (lgr.core.observe.firehose_feed).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass

from lgr.core import regex as regexes
from lgr.core import render
from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.envelope import KINDS


@dataclass(frozen=True)
class EnvelopeFilter:
    """An immutable filter; the empty filter passes everything. Build with :func:`make_filter`."""

    source_ids: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()
    name: str = ""
    regex: regexes.Regex | None = None

    @property
    def empty(self) -> bool:
        return not (self.source_ids or self.kinds or self.name or self.regex)

    def __call__(self, env: envelope_pb2.Envelope) -> bool:
        if not self.fields_match(env, env.WhichOneof("message")):
            return False
        return self.regex is None or self.regex.search(line_text(env))

    def fields_match(self, env: envelope_pb2.Envelope, kind: str | None) -> bool:
        """The cheap part: source, type and name (``kind`` is the envelope's message type)."""
        if self.source_ids and not self._source_matches(env.source_id):
            return False
        if self.kinds and kind not in self.kinds:
            return False
        return not self.name or any(self.name in n.lower() for n in names_of(env, kind))

    def _source_matches(self, source_id: str) -> bool:
        if source_id in self.source_ids:
            return True
        return any(fnmatch.fnmatchcase(source_id, p) for p in self.source_ids if _is_pattern(p))

    def describe(self) -> str:
        """A short summary, e.g. ``source app-1 · type log · /err/``; "" for the empty filter."""
        parts = []
        if self.source_ids:
            parts.append("source " + ", ".join(sorted(self.source_ids)))
        if self.kinds:
            parts.append("type " + ", ".join(k for k in KINDS if k in self.kinds))
        if self.name:
            parts.append(f"name ~ {self.name}")
        if self.regex is not None:
            parts.append(f"/{self.regex.pattern}/")
        return " · ".join(parts)


def make_filter(source_ids: Iterable[str] = (), kinds: Iterable[str] = (), name: str = "",
                regex: str = "") -> EnvelopeFilter:
    """A filter from user input; raises ValueError for an unknown type or a bad regex."""
    sources = frozenset(s.strip() for s in source_ids if s.strip())
    kind_set = frozenset(k.strip().lower() for k in kinds if k.strip())
    unknown = sorted(kind_set - set(KINDS))
    if unknown:
        raise ValueError(f"unknown type {unknown[0]!r} (use {', '.join(KINDS)})")
    try:
        pattern = regexes.compile(regex) if regex else None
    except regexes.RegexError as exc:
        raise ValueError(f"bad regular expression: {exc}") from None
    return EnvelopeFilter(sources, kind_set, name.strip().lower(), pattern)


def names_of(env: envelope_pb2.Envelope, kind: str | None = None) -> list[str]:
    """The names the name filter looks at (see the module docstring)."""
    kind = kind or env.WhichOneof("message")
    if kind == "counter":
        return [env.counter.name]
    if kind == "gauge":
        return list(env.gauge.metrics)
    if kind == "timer":
        return [env.timer.name]
    if kind == "event":
        return [env.event.title]
    return []


def line_text(env: envelope_pb2.Envelope) -> str:
    """The envelope as `lgr tail` prints it, without the leading indent."""
    return render.pretty(env).text().lstrip()


def split_terms(text: str) -> list[str]:
    """Comma- or space-separated terms of a filter input."""
    return [t for t in re.split(r"[,\s]+", text) if t]


def _is_pattern(text: str) -> bool:
    return any(c in text for c in "*?[")
