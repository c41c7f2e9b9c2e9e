"""Regular expressions matched in time linear in the text (times the pattern's size): no backtracking.

Why: `GITPRODUCTIVITY_BOT_PATTERNS` are regular expressions, and the names and emails they are tried against
come from the repositories people connect. Python's `re` backtracks, so an innocent-looking pattern such as
`(\\w+\\s?)+bot` takes exponential time on a crafted author name. Here a pattern is parsed by Python's own
parser (same syntax) and run as a Thompson NFA (Pike VM): every text position advances a set of states, each
state at most once, so a search costs O(len(text) x states), whatever the pattern and the text.

The price is the features that have no linear-time algorithm: back-references, look-ahead and look-behind,
conditional groups, atomic groups and possessive repeats are refused (with a message naming the feature) when
the pattern is compiled. Matching is always case-insensitive (bot patterns are documented so).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# The parser `re` itself uses (private modules, untyped: Python 3.11+ names).
C: Any = importlib.import_module("re._constants")
P: Any = importlib.import_module("re._parser")

MAX_STATES = 20_000  # after `{m,n}` repeats are written out
MAX_PATTERN_LENGTH = 1000

Pred = Callable[[str], bool]


class Unsupported(ValueError):
    """A pattern that cannot be matched in linear time (or is too large)."""


@dataclass
class _Char:
    pred: Pred
    next: int = -1


@dataclass
class _Split:
    a: int = -1
    b: int = -1


@dataclass
class _Assert:
    kind: object
    next: int = -1


@dataclass
class _Match:
    pass


_State = _Char | _Split | _Assert | _Match


def _is_word(c: str) -> bool:
    return c.isalnum() or c == "_"


_CATEGORIES: dict[object, Pred] = {
    C.CATEGORY_DIGIT: str.isdecimal,
    C.CATEGORY_NOT_DIGIT: lambda c: not c.isdecimal(),
    C.CATEGORY_SPACE: str.isspace,
    C.CATEGORY_NOT_SPACE: lambda c: not c.isspace(),
    C.CATEGORY_WORD: _is_word,
    C.CATEGORY_NOT_WORD: lambda c: not _is_word(c),
}


def _fold(c: str) -> set[str]:
    return {c, c.lower(), c.upper(), c.casefold()}


def _literal(code: int) -> Pred:
    forms = _fold(chr(code))
    return lambda c: c in forms


def _range(lo: int, hi: int) -> Pred:
    return lambda c: any(lo <= ord(f) <= hi for f in _fold(c) if len(f) == 1)


def _class(items: list[tuple[object, Any]]) -> Pred:
    negate = False
    tests: list[Pred] = []
    for op, av in items:
        if op is C.NEGATE:
            negate = True
        elif op is C.LITERAL:
            tests.append(_literal(av))
        elif op is C.RANGE:
            tests.append(_range(*av))
        elif op is C.CATEGORY:
            if av not in _CATEGORIES:
                raise Unsupported(f"the class {av} is not supported")
            tests.append(_CATEGORIES[av])
        else:
            raise Unsupported(f"{op} inside [...] is not supported")
    if negate:
        return lambda c: not any(t(c) for t in tests)
    return lambda c: any(t(c) for t in tests)


class _Builder:
    def __init__(self) -> None:
        self.states: list[_State] = []

    def add(self, state: _State) -> int:
        if len(self.states) >= MAX_STATES:
            raise Unsupported(f"the pattern is too large (over {MAX_STATES} states once repeats are written out)")
        self.states.append(state)
        return len(self.states) - 1

    def patch(self, holes: list[tuple[int, str]], target: int) -> None:
        for index, attr in holes:
            setattr(self.states[index], attr, target)

    # Each `build_*` returns (start state, list of dangling exits (state index, attribute) to patch).
    def seq(self, items: list[tuple[object, Any]]) -> tuple[int, list[tuple[int, str]]]:
        start: int | None = None
        holes: list[tuple[int, str]] = []
        for item in items:
            s, h = self.item(*item)
            if start is None:
                start = s
            else:
                self.patch(holes, s)
            holes = h
        if start is None:  # the empty pattern: a split whose both exits go on
            s = self.add(_Split())
            return s, [(s, "a"), (s, "b")]
        return start, holes

    def item(self, op: object, av: Any) -> tuple[int, list[tuple[int, str]]]:
        if op is C.LITERAL:
            s = self.add(_Char(_literal(av)))
            return s, [(s, "next")]
        if op is C.NOT_LITERAL:
            forms = _fold(chr(av))
            s = self.add(_Char(lambda c: c not in forms))
            return s, [(s, "next")]
        if op is C.ANY:
            s = self.add(_Char(lambda c: c != "\n"))
            return s, [(s, "next")]
        if op is C.IN:
            s = self.add(_Char(_class(av)))
            return s, [(s, "next")]
        if op is C.SUBPATTERN:
            _group, add_flags, del_flags, sub = av
            if (add_flags | del_flags) & ~(re.IGNORECASE | re.UNICODE):
                raise Unsupported("inline flags other than (?i) are not supported")
            return self.seq(list(sub))
        if op is C.BRANCH:
            _none, alternatives = av
            first, holes = self.seq(list(alternatives[0]))
            for alternative in alternatives[1:]:
                s, h = self.seq(list(alternative))
                split = self.add(_Split(first, s))
                first, holes = split, holes + h
            return first, holes
        if op is C.MAX_REPEAT or op is C.MIN_REPEAT:
            low, high, sub = av
            return self.repeat(low, high, list(sub))
        if op is C.AT:
            if av not in (C.AT_BEGINNING, C.AT_BEGINNING_STRING, C.AT_END, C.AT_END_STRING, C.AT_BOUNDARY,
                          C.AT_NON_BOUNDARY):  # fmt: skip
                raise Unsupported(f"the anchor {av} is not supported")
            s = self.add(_Assert(av))
            return s, [(s, "next")]
        names = {
            C.GROUPREF: "back-references",
            C.ASSERT: "look-ahead and look-behind",
            C.ASSERT_NOT: "look-ahead and look-behind",
            C.GROUPREF_EXISTS: "conditional groups",
        }
        raise Unsupported(f"{names.get(op, str(op))} cannot be matched in linear time")

    def repeat(self, low: int, high: int, sub: list[tuple[object, Any]]) -> tuple[int, list[tuple[int, str]]]:
        start: int | None = None
        holes: list[tuple[int, str]] = []

        def attach(s: int, h: list[tuple[int, str]]) -> None:
            nonlocal start, holes
            if start is None:
                start = s
            else:
                self.patch(holes, s)
            holes = h

        for _ in range(low):
            attach(*self.seq(sub))
        if high == C.MAXREPEAT:
            split = self.add(_Split())
            body, body_holes = self.seq(sub)
            self.states[split].a = body  # type: ignore[union-attr]
            self.patch(body_holes, split)
            attach(split, [(split, "b")])
        else:
            for _ in range(high - low):
                split = self.add(_Split())
                body, body_holes = self.seq(sub)
                self.states[split].a = body  # type: ignore[union-attr]
                attach(split, [*body_holes, (split, "b")])
        if start is None:
            s = self.add(_Split())
            return s, [(s, "a"), (s, "b")]
        return start, holes


class SafeRegex:
    """`search(text)`: whether the pattern matches anywhere in `text` (case-insensitive), in linear time."""

    def __init__(self, pattern: str) -> None:
        if len(pattern) > MAX_PATTERN_LENGTH:
            raise Unsupported(f"a pattern may be at most {MAX_PATTERN_LENGTH} characters long")
        try:
            parsed = P.parse(pattern, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        if parsed.state.flags & ~(re.IGNORECASE | re.UNICODE | re.VERBOSE):
            raise Unsupported("inline flags other than (?i) and (?x) are not supported")
        for name in ("ATOMIC_GROUP", "POSSESSIVE_REPEAT"):
            if any(op is getattr(C, name, object()) for op, _av in _walk(list(parsed))):
                raise Unsupported("atomic groups and possessive repeats are not supported")
        items = list(parsed)
        literal = "".join(chr(av) for op, av in items if op is C.LITERAL)
        self._literal = literal.casefold() if items and len(literal) == len(items) else None
        builder = _Builder()
        start, holes = builder.seq(items)
        builder.patch(holes, builder.add(_Match()))
        self.pattern = pattern
        self._states = builder.states
        self._start = start

    def _add(self, found: list[int], seen: set[int], index: int, text: str, pos: int) -> bool:
        """Add `index` and everything reachable from it without reading a character; True on reaching Match."""
        stack = [index]
        matched = False
        while stack:
            i = stack.pop()
            if i in seen:
                continue
            seen.add(i)
            state = self._states[i]
            if isinstance(state, _Char):
                found.append(i)
            elif isinstance(state, _Split):
                stack.append(state.b)
                stack.append(state.a)
            elif isinstance(state, _Assert):
                if _holds(state.kind, text, pos):
                    stack.append(state.next)
            else:
                matched = True
        return matched

    def search(self, text: str) -> bool:
        if self._literal is not None:  # most bot patterns (`dependabot`, `\\[bot\\]`): a plain substring test
            return self._literal in text.casefold()
        current: list[int] = []
        seen: set[int] = set()
        if self._add(current, seen, self._start, text, 0):
            return True
        for pos, c in enumerate(text):
            following: list[int] = []
            seen = set()
            for i in current:
                state = self._states[i]
                assert isinstance(state, _Char)
                if state.pred(c) and self._add(following, seen, state.next, text, pos + 1):
                    return True
            # an unanchored search: a match may also start at the next position
            if self._add(following, seen, self._start, text, pos + 1):
                return True
            current = following
        return False


def _holds(kind: object, text: str, pos: int) -> bool:
    if kind is C.AT_BEGINNING or kind is C.AT_BEGINNING_STRING:
        return pos == 0
    if kind is C.AT_END:
        return pos == len(text) or (pos == len(text) - 1 and text[pos] == "\n")
    if kind is C.AT_END_STRING:
        return pos == len(text)
    before = pos > 0 and _is_word(text[pos - 1])
    after = pos < len(text) and _is_word(text[pos])
    return (before != after) if kind is C.AT_BOUNDARY else (before == after)


def _walk(items: list[tuple[object, Any]]) -> list[tuple[object, Any]]:
    """Every (op, argument) in a parsed pattern, nested ones included."""
    out: list[tuple[object, Any]] = []
    stack = list(items)
    while stack:
        op, av = stack.pop()
        out.append((op, av))
        if isinstance(av, tuple | list):
            for part in av:
                if isinstance(part, P.SubPattern):
                    stack.extend(list(part))
                elif isinstance(part, list):
                    for sub in part:
                        if isinstance(sub, P.SubPattern):
                            stack.extend(list(sub))
    return out
