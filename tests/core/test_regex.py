"""lgr.core.regex: RE2 (Go's syntax and linear time) for every user-supplied pattern."""

from __future__ import annotations

import pytest

from lgr.core import regex
from lgr.core.observe.envelope_filter import make_filter


@pytest.mark.parametrize("pattern", [r"(a)\1", "(?=a)", "(?!a)", "(?<=a)b", "(?<!a)b", "[", "a{1001}",
                                     r"\Z", "(?P<x", "\udc80"])
def test_what_go_refuses_is_a_regex_error(pattern):
    with pytest.raises(regex.RegexError, match="^error parsing regexp: "):
        regex.compile(pattern)


def test_search_is_unanchored_and_anchored_is_prometheus_form():
    assert regex.compile("pu").search("cpu") and not regex.compile("^pu").search("cpu")
    assert regex.compile_anchored("a|b").search("b")
    assert not regex.compile_anchored("a|b").search("ab")
    # Prometheus compiles "^(?:" + v + ")$": this pattern is one alternation there.
    assert regex.compile_anchored("a)|(b").search("b")


def test_go_classes_are_ascii_and_text_may_hold_escaped_bytes():
    assert not regex.compile(r"\w").search("é")  # Go's \w is ASCII only
    assert regex.compile("é").search("café")
    assert regex.compile("x").search("\udcff x")  # rendered lines keep undecodable bytes escaped


@pytest.mark.parametrize(("pattern", "text", "hit"), [
    (r"(\w+)+!", "a" * 200_000, False),
    (r"(a*)*b", "a" * 200_000, False),
    (r"(a|aa)+$", "a" * 200_000, True),
    (r"((a+)+)+c", "a" * 200_000 + "c", True),
])
def test_pathological_patterns_answer(pattern, text, hit):
    compiled = regex.compile(pattern)
    assert compiled.search(text) is hit
    assert compiled.search(text) is hit  # the memo (short texts) and the matcher agree


def test_remembered_results_stay_bounded():
    compiled = regex.compile("7$")
    for n in range(regex.MEMO_ENTRIES * 2 + 10):
        assert compiled.search(str(n)) is str(n).endswith("7")
    assert len(compiled._memo) <= regex.MEMO_ENTRIES


def test_the_dashboard_filter_refuses_what_re2_refuses():
    with pytest.raises(ValueError, match="bad regular expression"):
        make_filter(regex=r"(a)\1")
    assert make_filter(regex=r"(\w+)+!").regex.pattern == r"(\w+)+!"
