"""PromQL syntax tree: the typed nodes lgr.core.apps.cache.promql_parser builds and promql_eval walks.

Each node's ``type`` is what it evaluates to: a scalar, an instant vector or a range vector.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SCALAR, VECTOR, MATRIX = "scalar", "instant vector", "range vector"


@dataclass(frozen=True)
class Matcher:
    """``name op value`` on a label; regexes are anchored, as in Prometheus."""

    name: str
    op: str
    value: str

    def matches(self, actual: str) -> bool:
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        hit = re.fullmatch(self.value, actual) is not None
        return hit if self.op == "=~" else not hit


@dataclass(frozen=True)
class Number:
    value: float
    type: str = SCALAR


@dataclass(frozen=True)
class Selector:
    """An instant selector; ``name`` is "" when only matchers are given."""

    name: str
    matchers: tuple[Matcher, ...]
    type: str = VECTOR


@dataclass(frozen=True)
class RangeSelector:
    selector: Selector
    range_ms: int
    type: str = MATRIX


@dataclass(frozen=True)
class Call:
    func: str
    arg: RangeSelector
    type: str = VECTOR


@dataclass(frozen=True)
class Aggregate:
    op: str
    expr: object
    labels: tuple[str, ...] = ()
    without: bool = False
    type: str = VECTOR


@dataclass(frozen=True)
class Binary:
    op: str
    lhs: object
    rhs: object
    type: str = field(default=VECTOR)
