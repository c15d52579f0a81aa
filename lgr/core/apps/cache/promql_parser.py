"""PromQL parser: the subset the log cache evaluates, parsed into a small typed syntax tree.

Supported: number literals; instant selectors ``name{label="v", l2=~"a|b", l3!="x", l4!~"y"}``
(a name, matchers, or both); range selectors ``sel[5m]``; the functions ``rate``, ``increase``
and ``{avg,min,max,sum,count}_over_time`` of a range selector; the aggregations ``sum``, ``avg``,
``max``, ``min`` and ``count`` with ``by (...)`` or ``without (...)`` before or after the
argument; ``+ - * / %`` between scalars and vectors (``*``, ``/``, ``%`` bind tighter); unary
minus; parentheses. Durations are Prometheus's (``ms s m h d w y``, combinable: ``1h30m``).

:func:`parse` raises :class:`ParseError` with a message naming what it expected and where.

A query may nest at most :data:`MAX_DEPTH` levels: each parenthesis, unary sign, function call,
aggregation and binary operator counts one, along the deepest path of the query. Prometheus has
no such bound (Go's stacks grow); here both the parser and the evaluator recurse, and past the
bound a query is refused before either runs out of stack.
"""

from __future__ import annotations

import re

from lgr.core.apps.cache.promql_ast import (
    MATRIX,
    SCALAR,
    VECTOR,
    Aggregate,
    Binary,
    Call,
    Matcher,
    Number,
    RangeSelector,
    Selector,
)
from lgr.core.regex import RegexError

AGGREGATIONS = ("sum", "avg", "max", "min", "count")
RANGE_FUNCTIONS = ("rate", "increase", "avg_over_time", "min_over_time", "max_over_time",
                   "sum_over_time", "count_over_time")
MATCH_OPS = ("=", "!=", "=~", "!~")
MAX_DEPTH = 128
TOO_DEEP = (f"query is nested too deeply: more than {MAX_DEPTH} levels of parentheses, "
            "operators, functions or aggregations")

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<op>=~|!~|!=|==|>=|<=|[-+*/%^=(){}\[\],<>])
""", re.VERBOSE)
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000,
            "w": 604_800_000, "y": 31_536_000_000}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "a": "\a", "b": "\b",
            "f": "\f", "v": "\v"}


class ParseError(ValueError):
    """The query is not in the supported PromQL subset; the message says why and where."""


def parse_duration_ms(text: str) -> int:
    """Milliseconds of a Prometheus duration such as ``5m`` or ``1h30m``."""
    pos, total = 0, 0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += int(m.group(1)) * _UNIT_MS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text or total == 0:
        raise ParseError(f"not a valid duration string: {text!r}")
    return total


def parse(query: str) -> object:
    """The syntax tree of ``query``; ParseError when it is outside the subset."""
    return _Parser(query).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None:
                raise ParseError(f"unexpected character {text[pos]!r} at position {pos + 1}")
            if m.lastgroup != "ws":
                self.tokens.append((m.lastgroup, m.group(), pos))  # type: ignore[arg-type]
            pos = m.end()
        self.i = 0
        self.level = 0  # nesting entered and not yet left, while descending
        # id(node) -> (levels it spans, node); holding the node keeps its id from being reused
        self.depths: dict[int, tuple[int, object]] = {}

    def _enter(self) -> None:
        self.level += 1
        if self.level > MAX_DEPTH:
            raise ParseError(TOO_DEEP)

    def _built(self, node: object, *children: object) -> object:
        """Record ``node``'s depth: one more than its deepest child; refuse past MAX_DEPTH."""
        depth = 1 + max((self.depths.get(id(c), (1, c))[0] for c in children), default=0)
        if depth > MAX_DEPTH:
            raise ParseError(TOO_DEEP)
        self.depths[id(node)] = (depth, node)
        return node

    def parse(self) -> object:
        if not self.tokens:
            raise ParseError("empty query")
        expr = self._sum()
        if self.i < len(self.tokens):
            self._fail("end of query")
        return expr

    # tokens ----------------------------------------------------------------------------------
    def _peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _accept(self, value: str) -> bool:
        tok = self._peek()
        if tok is not None and tok[1] == value and tok[0] in ("op", "ident"):
            self.i += 1
            return True
        return False

    def _expect(self, value: str) -> None:
        if not self._accept(value):
            self._fail(repr(value))

    def _fail(self, wanted: str) -> None:
        tok = self._peek()
        got = f"{tok[1]!r} at position {tok[2] + 1}" if tok else "end of query"
        raise ParseError(f"expected {wanted}, got {got}")

    # grammar ---------------------------------------------------------------------------------
    def _sum(self) -> object:
        expr = self._product()
        while (tok := self._peek()) and tok[0] == "op" and tok[1] in "+-":
            self.i += 1
            rhs = self._product()
            expr = self._built(_binary(tok[1], expr, rhs), expr, rhs)
        return expr

    def _product(self) -> object:
        expr = self._unary()
        while (tok := self._peek()) and tok[0] == "op" and tok[1] in ("*", "/", "%"):
            self.i += 1
            rhs = self._unary()
            expr = self._built(_binary(tok[1], expr, rhs), expr, rhs)
        return expr

    def _unary(self) -> object:
        if self._accept("-"):
            inner = self._nested(self._unary)
            if isinstance(inner, Number):
                return self._built(Number(-inner.value), inner)
            return self._built(_binary("*", Number(-1.0), inner), inner)
        if self._accept("+"):
            inner = self._nested(self._unary)
            return self._built(inner, inner)
        return self._primary()

    def _nested(self, parse):  # noqa: ANN001, ANN202 - one level deeper: parse() inside it
        self._enter()
        try:
            return parse()
        finally:
            self.level -= 1

    def _primary(self) -> object:
        tok = self._peek()
        if tok is None:
            self._fail("an expression")
        kind, value, _ = tok  # type: ignore[misc]
        if kind == "number":
            self.i += 1
            return Number(float(value))
        if value == "(":
            self.i += 1
            expr = self._nested(self._sum)
            self._expect(")")
            return self._built(expr, expr)
        if value == "{":
            return self._range_suffix(Selector("", self._matchers()))
        if kind != "ident":
            self._fail("an expression")
        self.i += 1
        lowered = value.lower()
        if lowered in ("nan", "inf"):
            return Number(float(lowered))
        if lowered in AGGREGATIONS and self._peek() and self._peek()[1] in ("(", "by", "without"):
            return self._aggregate(lowered)
        if self._peek() and self._peek()[1] == "(":
            return self._call(value)
        matchers = self._matchers() if self._peek() and self._peek()[1] == "{" else ()
        return self._range_suffix(Selector(value, matchers))

    def _aggregate(self, op: str) -> Aggregate:
        labels, without = self._grouping()
        self._expect("(")
        expr = self._nested(self._sum)
        self._expect(")")
        if labels is None:
            labels, without = self._grouping()
        _check_type(expr, VECTOR, f"aggregation {op!r}")
        return self._built(Aggregate(op, expr, tuple(labels or ()), without), expr)

    def _grouping(self) -> tuple[list[str] | None, bool]:
        tok = self._peek()
        if not tok or tok[1] not in ("by", "without"):
            return None, False
        without = tok[1] == "without"
        self.i += 1
        self._expect("(")
        labels: list[str] = []
        while not self._accept(")"):
            tok = self._peek()
            if tok is None or tok[0] != "ident":
                self._fail("a label name")
            labels.append(tok[1])  # type: ignore[index]
            self.i += 1
            if not self._accept(","):
                self._expect(")")
                break
        return labels, without

    def _call(self, name: str) -> Call:
        if name not in RANGE_FUNCTIONS:
            raise ParseError(f"unknown or unsupported function {name!r} "
                             f"(supported: {', '.join(RANGE_FUNCTIONS)})")
        self._expect("(")
        arg = self._nested(self._sum)
        self._expect(")")
        _check_type(arg, MATRIX, f"call to function {name!r}")
        return self._built(Call(name, arg), arg)  # type: ignore[arg-type]

    def _matchers(self) -> tuple[Matcher, ...]:
        self._expect("{")
        out: list[Matcher] = []
        while not self._accept("}"):
            tok = self._peek()
            if tok is None or tok[0] != "ident":
                self._fail("a label name")
            self.i += 1
            op = self._peek()
            if op is None or op[1] not in MATCH_OPS:
                self._fail("a label matching operator (=, !=, =~, !~)")
            self.i += 1
            value = self._peek()
            if value is None or value[0] != "string":
                self._fail("a quoted label value")
            self.i += 1
            text = _unquote(value[1])  # type: ignore[index]
            try:
                matcher = Matcher(tok[1], op[1], text)  # type: ignore[index]
            except RegexError as exc:
                raise ParseError(f"invalid regular expression {text!r}: {exc}") from None
            out.append(matcher)
            if not self._accept(","):
                self._expect("}")
                break
        return tuple(out)

    def _range_suffix(self, selector: Selector) -> Selector | RangeSelector:
        if not selector.name and not selector.matchers:
            raise ParseError("vector selector must contain at least one matcher")
        if not self._accept("["):
            return selector
        start = self.tokens[self.i][2] if self.i < len(self.tokens) else len(self.text)
        while self._peek() and self._peek()[1] != "]":
            self.i += 1
        if not self._peek():
            self._fail("']'")
        end = self.tokens[self.i][2]
        self.i += 1
        return RangeSelector(selector, parse_duration_ms(self.text[start:end].strip()))


def _binary(op: str, lhs: object, rhs: object) -> object:
    for side in (lhs, rhs):
        _check_type(side, (SCALAR, VECTOR), f"binary expression {op!r}")
    if isinstance(lhs, Number) and isinstance(rhs, Number):
        return Binary(op, lhs, rhs, SCALAR)
    return Binary(op, lhs, rhs, SCALAR if lhs.type == rhs.type == SCALAR else VECTOR)  # type: ignore[attr-defined]


def _check_type(node: object, wanted: str | tuple[str, ...], where: str) -> None:
    got = node.type  # type: ignore[attr-defined]
    allowed = (wanted,) if isinstance(wanted, str) else wanted
    if got not in allowed:
        raise ParseError(f"expected type {' or '.join(allowed)} in {where}, got {got}")


def _unquote(token: str) -> str:
    body = token[1:-1]
    if token[0] == "`":
        return body
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)
