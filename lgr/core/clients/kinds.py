"""Kinds: the envelope types a client's stream request selects, from its type and name filters.

The rlp's EgressBatchRequest (lgr.core.clients.egress) and the gateway's /v2/read query
(lgr.core.clients.gateway) select the same types for the same filters: the types given (each once,
in order), else those the name filters imply (counter for a counter name, gauge for gauge names),
else all five.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from lgr.core.envelope import KINDS


def selected_kinds(kinds: Iterable[str], counter_name: str = "", gauge_names: Sequence[str] = ()) -> list[str]:
    """The types to select; ValueError names an unknown one."""
    kinds = list(dict.fromkeys(kinds))
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown envelope type {unknown[0]!r} (use {', '.join(KINDS)})")
    if kinds:
        return kinds
    implied = (["counter"] if counter_name else []) + (["gauge"] if gauge_names else [])
    return implied or list(KINDS)
