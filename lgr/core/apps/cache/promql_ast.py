"""PromQL syntax tree: the typed nodes lgr.core.apps.cache.promql_parser builds and promql_eval walks.

Each node's ``type`` is what it evaluates to: a scalar, an instant vector or a range vector.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lgr.core import regex

SCALAR, VECTOR, MATRIX = "scalar", "instant vector", "range vector"


@dataclass(frozen=True)
class Matcher:
    """``name op value`` on a label; regexes are RE2, anchored as Prometheus anchors them.

    Building a ``=~`` or ``!~`` matcher compiles its regex; RegexError when RE2 refuses it.
    """

    name: str
    op: str
    value: str
    compiled: regex.Regex | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.op in ("=~", "!~") and self.compiled is None:
            object.__setattr__(self, "compiled", regex.compile_anchored(self.value))

    def matches(self, actual: str) -> bool:
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        hit = self.compiled.search(actual)  # type: ignore[union-attr]
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
