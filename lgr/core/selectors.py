"""Selectors: validating egress requests and matching envelopes, with upstream's semantics.

Two layers, as upstream has them:

* :func:`validate` is what the RLP does to a consumer's request before any router sees it: a
  ``legacy_selector`` becomes the only selector when ``selectors`` is empty, then an empty list or
  a selector without a message type is rejected (gRPC INVALID_ARGUMENT at the server).
* :func:`compile_selector` / :func:`matches` are the router's matching rules, pinned by
  tests/vectors/selectors.json: an empty ``source_id`` matches every source (including ``""``);
  a named source never matches an envelope whose source_id is empty; each type selector matches
  only its own type; a counter name is exact and case-sensitive (``""`` = any counter); gauge
  names must equal the gauge's metric names as a multiset (no names = any gauge, even an empty
  one); an envelope without a message matches nothing; a selector without a message matches
  nothing.

Upstream routes by a tree of crc64 hashes; we compare the values themselves, which gives the same
answers without hash collisions (upstream's gauge path is a sum of hashes, so a selector of
``[""]`` also matches a gauge with no metrics there; here it matches only a gauge whose one
metric is named ``""``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple, TypeVar

from lgr.core._proto.loggregator.v2 import egress_pb2, envelope_pb2
from lgr.core.errors import InvalidSelectorError

Request = TypeVar("Request", egress_pb2.EgressRequest, egress_pb2.EgressBatchRequest)

MESSAGE_TYPES = ("log", "counter", "gauge", "timer", "event")

# A selector's refinement: None matches every envelope of its type; a str is an exact counter
# name; a tuple is a gauge's sorted metric names (duplicates kept, so they never match a map).
Detail = str | tuple[str, ...] | None


class CompiledSelector(NamedTuple):
    """A selector reduced to plain values that are cheap to compare and to use as index keys."""

    source_id: str
    kind: str
    detail: Detail

    def matches(self, envelope: envelope_pb2.Envelope) -> bool:
        """True when ``envelope`` is one this selector asks for."""
        kind = envelope.WhichOneof("message")
        if kind != self.kind:
            return False
        if self.source_id and self.source_id != envelope.source_id:
            return False
        if self.detail is None:
            return True
        return envelope_detail(envelope, kind) == self.detail


def compile_selector(selector: egress_pb2.Selector) -> CompiledSelector | None:
    """The compiled form of ``selector``; None when it names no message type (matches nothing)."""
    kind = selector.WhichOneof("Message")
    if kind is None:
        return None
    detail: Detail = None
    if kind == "counter":
        detail = selector.counter.name or None
    elif kind == "gauge":
        names = selector.gauge.names
        detail = tuple(sorted(names)) if names else None
    return CompiledSelector(selector.source_id, kind, detail)


def compile_selectors(selectors: Iterable[egress_pb2.Selector]) -> list[CompiledSelector]:
    """Compile every selector that names a message type, in order; the router skips the rest."""
    out = []
    for selector in selectors:
        compiled = compile_selector(selector)
        if compiled is not None:
            out.append(compiled)
    return out


def envelope_detail(envelope: envelope_pb2.Envelope, kind: str) -> Detail:
    """The value a named counter or gauge selector compares against (None for other types)."""
    if kind == "counter":
        return envelope.counter.name
    if kind == "gauge":
        return tuple(sorted(envelope.gauge.metrics))
    return None


def matches(selector: egress_pb2.Selector, envelope: envelope_pb2.Envelope) -> bool:
    """True when ``selector`` selects ``envelope`` under the router's rules."""
    compiled = compile_selector(selector)
    return compiled is not None and compiled.matches(envelope)


def validate(request: Request) -> Request:
    """Return a copy of an Egress(Batch)Request as the RLP accepts it; else InvalidSelectorError.

    A set ``legacy_selector`` becomes the only selector when ``selectors`` is empty and is ignored
    otherwise (upstream assumes the selectors cover it); either way it is cleared. The error names
    every selector index that lacks a message type.
    """
    out = type(request)()
    out.CopyFrom(request)
    if out.HasField("legacy_selector"):
        if not out.selectors:
            out.selectors.append(out.legacy_selector)
        out.ClearField("legacy_selector")
    if not out.selectors:
        raise InvalidSelectorError(
            "selectors cannot be empty",
            hint="add a selector: a source_id (or none for all) and one of "
            + ", ".join(MESSAGE_TYPES),
        )
    bad = [
        f"selector {i} (source_id {s.source_id!r})"
        for i, s in enumerate(out.selectors)
        if s.WhichOneof("Message") is None
    ]
    if bad:
        raise InvalidSelectorError(
            "; ".join(bad) + (" has" if len(bad) == 1 else " have") + " no message type",
            hint="each selector must set one of " + ", ".join(MESSAGE_TYPES),
        )
    return out
