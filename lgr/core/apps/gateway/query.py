"""Query: turns /v2/read query parameters into an EgressBatchRequest, by upstream's rules.

Parsing follows Go's ``url.ParseQuery``: pairs split on ``&``, a pair holding ``;`` or a bad
``%`` escape is dropped, ``+`` is a space, a bare key (``?log``) has the value ``""``.
Then upstream's selector builder (rlp-gateway web/selector_builder.go):

- no parameters at all → ``empty_query``; none of ``log``, ``counter``, ``gauge``, ``timer``,
  ``event``, ``counter.name``, ``gauge.name`` → ``missing_envelope_type`` (both 400);
- selectors are the product of the ``source_id`` values (in order, repeats kept; none means
  ``""``, the whole firehose) and the types present, per source id in the order log, counter,
  gauge, timer, event;
- ``counter.name`` gives one counter selector per value; ``gauge.name`` one gauge selector per
  value, its names that value split on ``,`` (an empty value gives the name set ``{""}``);
- ``shard_id`` and ``deterministic_name`` take their first value; use_preferred_tags is true.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

from lgr.core._proto.loggregator.v2 import egress_pb2
from lgr.core.apps.gateway.errors import (
    EMPTY_QUERY,
    MISSING_COUNTER_NAME,
    MISSING_GAUGE_NAME,
    MISSING_TYPE,
)

ENVELOPE_TYPES = ("log", "counter", "gauge", "timer", "event")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")

Query = dict[str, list[str]]


def parse_query(raw: str) -> Query:
    """Parse a raw query string the way Go's ``url.ParseQuery`` does (bad pairs dropped)."""
    values: Query = {}
    if not raw.isascii():
        raw = _well_formed(raw)
    for pair in raw.split("&"):
        if not pair or ";" in pair:
            continue
        key, _, value = pair.partition("=")
        if _BAD_ESCAPE.search(key) or _BAD_ESCAPE.search(value):
            continue
        # Go keeps invalid UTF-8 in the string, and protobuf would then refuse to marshal it;
        # replacing it keeps the request well-formed.
        key = unquote_plus(key, errors="replace")
        value = unquote_plus(value, errors="replace")
        values.setdefault(key, []).append(value)
    return values


def _well_formed(text: str) -> str:
    """``text`` with lone surrogates as U+FFFD. A request target's bytes that are not UTF-8 reach
    the handler as surrogates (surrogateescape), which protobuf cannot encode; they get U+FFFD,
    as bad escapes do."""
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate surrogateescape cannot have made
        data = text.encode("utf-8", "surrogatepass")
    return data.decode("utf-8", "replace")


def build_selectors(query: Query) -> list[egress_pb2.Selector]:
    """The selectors for ``query``; raises a JsonError (400) as upstream does."""
    if not query:
        raise EMPTY_QUERY
    if not any(key in query for key in (*ENVELOPE_TYPES, "counter.name", "gauge.name")):
        raise MISSING_TYPE
    # Upstream also rejects a present-but-valueless counter.name / gauge.name, which its query
    # parser can never produce (a bare key has the value ""); kept for parity with direct calls.
    if "counter.name" in query and not query["counter.name"]:
        raise MISSING_COUNTER_NAME
    if "gauge.name" in query and not query["gauge.name"]:
        raise MISSING_GAUGE_NAME
    selectors: list[egress_pb2.Selector] = []
    for sid in query.get("source_id") or [""]:
        if "log" in query:
            selectors.append(_selector(sid, "log"))
        if "counter" in query or "counter.name" in query:
            names = query.get("counter.name")
            for name in names if names is not None else [None]:
                sel = _selector(sid, "counter")
                if name is not None:
                    sel.counter.name = name
                selectors.append(sel)
        if "gauge" in query or "gauge.name" in query:
            for value in query.get("gauge.name") or [None]:
                sel = _selector(sid, "gauge")
                if value is not None:
                    sel.gauge.names.extend(value.split(","))
                selectors.append(sel)
        if "timer" in query:
            selectors.append(_selector(sid, "timer"))
        if "event" in query:
            selectors.append(_selector(sid, "event"))
    return selectors


def build_request(query: Query) -> egress_pb2.EgressBatchRequest:
    """The EgressBatchRequest the gateway sends the reverse log proxy for ``query``."""
    return egress_pb2.EgressBatchRequest(
        shard_id=_first(query, "shard_id"),
        deterministic_name=_first(query, "deterministic_name"),
        use_preferred_tags=True,
        selectors=build_selectors(query),
    )


def _first(query: Query, key: str) -> str:
    values = query.get(key)
    return values[0] if values else ""


def _selector(source_id: str, kind: str) -> egress_pb2.Selector:
    sel = egress_pb2.Selector(source_id=source_id)
    getattr(sel, kind).SetInParent()
    return sel
