"""Regex: every regular expression a user gives lgr, compiled by RE2 so matching takes linear time.

Upstream's components are Go, whose ``regexp`` package is RE2: a match costs time linear in the
text whatever the pattern, so ``(\\w+)+!`` against a long name is as cheap as ``cpu``. Python's
``re`` backtracks and would take minutes on such a pattern while holding the event loop; so every
pattern that comes from a request, a flag or an input field (the log cache's ``name_filter``,
PromQL's ``=~`` and ``!~``, `lgr tail`'s ``--name-filter``, ``--include`` and ``--exclude``, the
dashboard's regex filter) goes through :func:`compile` here, never through ``re``.

The syntax is RE2's, which is Go's: no backreferences and no lookaround; patterns using them are
refused with :class:`RegexError`, as any other bad pattern is, with RE2's message after Go's
``error parsing regexp:`` prefix. :meth:`Regex.search` is Go's ``MatchString`` (unanchored);
:func:`compile_anchored` is how Prometheus compiles a label matcher, ``^(?:pattern)$``.
"""

from __future__ import annotations

from re2 import _re2  # the RE2 binding under the `re2` module; its wrapper costs ~3 µs per match

MEMO_TEXT_LIMIT = 128  # texts up to this many characters have their result remembered
MEMO_ENTRIES = 4096  # per pattern; names repeat (counter and gauge names), lines do not
_UNANCHORED = _re2.RE2.Anchor.UNANCHORED


class RegexError(ValueError):
    """A pattern RE2 (and so Go) refuses; the message says why."""


class Regex:
    """A compiled pattern; ``pattern`` is the text it was compiled from."""

    __slots__ = ("pattern", "_re", "_memo")

    def __init__(self, pattern: str, source: str) -> None:
        self.pattern = pattern
        options = _re2.RE2.Options()
        options.log_errors = False  # RE2 would print every refused pattern on stderr
        options.never_capture = True  # only "does it match" is ever asked
        try:
            encoded = source.encode("utf-8")
        except UnicodeEncodeError:
            raise RegexError(f"error parsing regexp: invalid UTF-8: {pattern!r}") from None
        self._re = _re2.RE2(encoded, options)
        if not self._re.ok():
            message = self._re.error()
            if isinstance(message, bytes):
                message = message.decode("utf-8", "replace")
            raise RegexError(f"error parsing regexp: {message}")
        self._memo: dict[str, bool] = {}

    def search(self, text: str) -> bool:
        """True when the pattern matches anywhere in ``text`` (Go's ``MatchString``)."""
        memo = self._memo
        hit = memo.get(text)
        if hit is not None:
            return hit
        data = text.encode("utf-8", "surrogatepass")  # rendered lines may carry escaped bytes
        hit = self._re.Match(_UNANCHORED, data, 0, len(data))[0][0] >= 0
        if len(text) <= MEMO_TEXT_LIMIT:
            if len(memo) >= MEMO_ENTRIES:
                memo.clear()
            memo[text] = hit
        return hit

    def __repr__(self) -> str:
        return f"Regex({self.pattern!r})"


def compile(pattern: str) -> Regex:  # noqa: A001 - the name every caller expects of a regex module
    """``pattern`` compiled for unanchored search; RegexError when RE2 refuses it."""
    return Regex(pattern, pattern)


def compile_anchored(pattern: str) -> Regex:
    """``pattern`` as Prometheus compiles a label matcher: ``^(?:pattern)$``, so it must match all."""
    return Regex(pattern, f"^(?:{pattern})$")
