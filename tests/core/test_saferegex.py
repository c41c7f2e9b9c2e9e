"""`core.saferegex` finds what `re.search` finds (case-insensitive), in time linear in the text, and refuses
what cannot be matched so (issue 12: bot patterns are tried against names and emails from repositories)."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitproductivity.core.saferegex import SafeRegex, Unsupported

ATOMS = ["a", "b", "B", ".", "\\d", "\\w", "\\s", "[ab]", "[^a]", "[a-c]", "\\b", "^", "$", "-", "1", " "]


def regexes(depth: int = 2) -> st.SearchStrategy[str]:
    atom = st.sampled_from(ATOMS)
    if depth > 0:
        inner = regexes(depth - 1)
        atom = st.one_of(
            atom,
            inner.map(lambda r: f"({r})"),
            st.tuples(inner, inner).map(lambda rs: f"(?:{rs[0]}|{rs[1]})"),
        )
    quantified = st.tuples(atom, st.sampled_from(["", "", "*", "+", "?", "{2}", "{1,3}", "*?", "{0,2}"])).map("".join)
    return st.lists(quantified, min_size=1, max_size=4).map("".join)


@settings(max_examples=150, deadline=None)  # a few seconds: the fast tier
@given(pattern=regexes(), text=st.text(alphabet="abAB1 -_c\n", max_size=12))
def test_finds_what_re_finds(pattern: str, text: str) -> None:
    try:
        expected = re.search(pattern, text, re.IGNORECASE) is not None
    except re.error:
        return
    assert SafeRegex(pattern).search(text) is expected


@pytest.mark.parametrize(
    "pattern", [r"(\w+\s?)+bot", r"(a+)+b", r"(a|aa)+c", r"(.*a){12}x", r"^(([a-z])+.)+[A-Z]([a-z])+$"]
)
def test_catastrophic_patterns_take_linear_time(pattern: str) -> None:
    """Each of these takes `re` exponential time on this text; here, well under a second."""
    text = "a" * 2000 + "!"
    started = time.perf_counter()
    assert SafeRegex(pattern).search(text) is False
    assert time.perf_counter() - started < 2.0  # generous; `re` needs longer than the universe for most


@pytest.mark.parametrize(
    ("pattern", "feature"),
    [
        (r"(a)\1", "back-references"),
        (r"bot(?=x)", "look-ahead"),
        (r"(?<!x)bot", "look-ahead and look-behind"),
        (r"(a)?(?(1)b|c)", "conditional"),
        (r"(?s)a.b", "inline flags"),
        ("a" * 1001, "at most"),
        ("((a{100}){100}){100}", "too large"),
        ("(?>ab)c", "atomic"),
    ],
)
def test_what_cannot_be_linear_is_refused_in_words(pattern: str, feature: str) -> None:
    with pytest.raises(Unsupported, match=feature):
        SafeRegex(pattern)


def test_invalid_patterns_are_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a valid regular expression"):
        SafeRegex("[unclosed")
