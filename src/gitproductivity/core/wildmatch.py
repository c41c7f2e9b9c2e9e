"""Git's path patterns (gitignore / gitattributes), matched in time bounded by pattern length times path length.

Why not a regular expression: the old translation turned `*` into `[^/]*`, and Python's backtracking engine
tries every way to split a name between the stars, exponential in their number (`*a*a*a*a*a*a*a*a*a*b` against
a long name held the interpreter for a minute). Here no step ever backtracks more than one level:

- a pattern is cut at `/` into segments; a segment is cut at `*` into chunks of single-character atoms
  (literal, `?`, `[...]`), so every chunk has a fixed length and is found with one C-level regex search that has
  no quantifier at all;
- between the chunks a star matches anything, so the leftmost place of each chunk is always the right one
  (the classic greedy glob algorithm: a later chunk can only gain from an earlier chunk placed further left);
- the same argument at the level of path components handles `**`: segments between `**` are fixed-length runs
  of components, each placed leftmost.

So a match costs O(len(pattern) x len(path)) character steps at worst, with no exponent; patterns and their
number are bounded besides (`MAX_PATTERN_LENGTH`).

Semantics follow git's `wildmatch` with `WM_PATHNAME` and `dir.c`: a pattern without `/` (a trailing one aside)
matches the base name at any depth; one with `/` is anchored at its base directory; `**/` leading, `/**/` inner
and `/**` trailing cross directories (zero or more, zero or more, one or more), any other `**` is a `*`;
`?`, `*` and brackets never match `/`; `[!a-z]`, `[^...]`, `[[:alpha:]]` and `\\` escapes as in git; a pattern
with an unterminated bracket or a malformed class matches nothing (git aborts the match).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

MAX_PATTERN_LENGTH = 2048  # git ignores longer .gitattributes lines (ATTR_MAX_LINE_LENGTH)

_CLASSES = {
    "alnum": "a-zA-Z0-9",
    "alpha": "a-zA-Z",
    "blank": " \\t",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "\\x21-\\x7e",
    "lower": "a-z",
    "print": "\\x20-\\x7e",
    "punct": "!-/:-@\\[-`{-~",
    "space": " \\t\\n\\r\\f\\v",
    "upper": "A-Z",
    "xdigit": "0-9A-Fa-f",
}
_WILD = re.compile(r"[*?\[\\]")
C = TypeVar("C")  # what a chunk holds: a compiled regex (characters) or a run of segments (components)


class Malformed(ValueError):
    """A pattern git would refuse to match anything with (unterminated bracket, unknown class)."""


def _class_char(c: str) -> str:
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}"


def _bracket(pattern: str, i: int) -> tuple[str, int]:
    """The regex class for the bracket starting after `[` at `i`, and the index after its `]`."""
    n = len(pattern)
    negated = i < n and pattern[i] in "!^"
    if negated:
        i += 1
    parts: list[str] = []
    prev: str | None = None
    first = True
    while True:
        if i >= n:
            raise Malformed("unterminated [")
        c = pattern[i]
        if c == "]" and not first:
            i += 1
            break
        first = False
        if c == "\\":
            i += 1
            if i >= n:
                raise Malformed("trailing backslash in [")
            c = pattern[i]
            parts.append(_class_char(c))
            prev = c
            i += 1
        elif c == "-" and prev is not None and i + 1 < n and pattern[i + 1] != "]":
            hi = pattern[i + 1]
            i += 2
            if hi == "\\":
                if i >= n:
                    raise Malformed("trailing backslash in [")
                hi = pattern[i]
                i += 1
            if prev <= hi:
                parts.append(f"{_class_char(prev)}-{_class_char(hi)}")
            prev = None
        elif c == "[" and i + 1 < n and pattern[i + 1] == ":":
            end = pattern.find(":]", i + 2)
            if end < 0:
                parts.append(_class_char(c))  # a plain `[` (git matches it literally)
                prev = c
                i += 1
                continue
            name = pattern[i + 2 : end]
            if name not in _CLASSES:
                raise Malformed(f"unknown character class [:{name}:]")
            parts.append(_CLASSES[name])
            prev = None
            i = end + 2
        else:
            parts.append(_class_char(c))
            prev = c
            i += 1
    body = "".join(parts)
    if negated:
        return (f"[^{body}]" if body else "(?s:.)"), i
    return (f"[{body}]" if body else "(?!)"), i


@dataclass(frozen=True)
class _Segment:
    """A glob for one path component: fixed-length chunks (compiled, quantifier-free) between stars."""

    literal: str | None  # the whole segment, when it has no wildcard (compared with ==)
    chunks: tuple[tuple[re.Pattern[str], int], ...]
    star_start: bool
    star_end: bool

    @classmethod
    def parse(cls, text: str) -> _Segment:
        if not _WILD.search(text):
            return cls(text, (), False, False)
        pieces: list[list[str]] = [[]]
        i = 0
        while i < len(text):
            c = text[i]
            if c == "*":
                if pieces[-1]:
                    pieces.append([])
                i += 1
            elif c == "?":
                pieces[-1].append("(?s:.)")
                i += 1
            elif c == "[":
                atom, i = _bracket(text, i + 1)
                pieces[-1].append(atom)
            elif c == "\\":
                if i + 1 >= len(text):
                    raise Malformed("trailing backslash")
                pieces[-1].append(re.escape(text[i + 1]))
                i += 2
            else:
                pieces[-1].append(re.escape(c))
                i += 1
        chunks = tuple((re.compile("".join(p)), len(p)) for p in pieces if p)
        star_start, star_end = text.startswith("*"), _ends_with_star(text)
        return cls(None, chunks, star_start, star_end)

    def match(self, name: str) -> bool:
        if self.literal is not None:
            return name == self.literal
        return _greedy(
            self.chunks,
            len(name),
            self.star_start,
            self.star_end,
            lambda chunk, at: chunk[0].match(name, at) is not None,
            lambda chunk, start, stop: m.start() if (m := chunk[0].search(name, start, stop)) else -1,
        )


def _ends_with_star(text: str) -> bool:
    """True when the last character is an unescaped `*` (a `\\*` at the end is a literal star)."""
    if not text.endswith("*"):
        return False
    backslashes = len(text) - 1 - len(text[:-1].rstrip("\\"))
    return backslashes % 2 == 0


def _greedy(
    chunks: Sequence[tuple[C, int]],
    length: int,
    star_start: bool,
    star_end: bool,
    match_at: Callable[[tuple[C, int], int], bool],
    search: Callable[[tuple[C, int], int, int], int],
) -> bool:
    """The greedy glob algorithm over fixed-length chunks separated by stars (see the module docstring).

    `match_at(chunk, i)` says whether `chunk` matches at `i`; `search(chunk, start, stop)` gives the leftmost
    `i` in [start, stop - len] where it matches, or -1. Each chunk is tried once: no backtracking.
    """
    if not chunks:
        return star_start or star_end or length == 0
    if not star_start and not star_end and len(chunks) == 1:
        return chunks[0][1] == length and match_at(chunks[0], 0)
    pos, end = 0, length
    middle = list(chunks)
    if not star_start:
        head = middle.pop(0)
        if head[1] > length or not match_at(head, 0):
            return False
        pos = head[1]
    if not star_end:
        if not middle:
            return pos == length
        tail = middle.pop()
        end = length - tail[1]
        if end < pos or not match_at(tail, end):
            return False
    for chunk in middle:
        found = search(chunk, pos, end)
        if found < 0:
            return False
        pos = found + chunk[1]
    return True


def _split(body: str) -> list[str]:
    """`body` cut at each `/` that is not inside a bracket (`[!/]` is one atom) nor escaped."""
    parts: list[str] = []
    start = i = 0
    while i < len(body):
        c = body[i]
        if c == "\\":
            i += 2
        elif c == "[":
            try:
                i = _bracket(body, i + 1)[1]
            except Malformed:
                i += 1
        elif c == "/":
            parts.append(body[start:i])
            start = i = i + 1
        else:
            i += 1
    parts.append(body[start:])
    return parts


DOUBLE_STAR = None  # a `**` segment in a parsed pattern


@dataclass(frozen=True)
class Pattern:
    """One gitignore/gitattributes line's pattern, parsed once. `base` is the directory of the file it came from."""

    text: str
    base: tuple[str, ...]
    basename_only: bool  # no `/` but a trailing one: matches a name at any depth
    must_be_dir: bool  # a trailing `/`: matches directories only
    segments: tuple[_Segment | None, ...]  # None is `**`
    suffix: str | None  # `*.ext`-style patterns: compared with endswith (git's PATTERN_FLAG_ENDSWITH)
    #: git compares the literal prefix first and wildmatches only the rest, so a `**` right after a prefix that
    #: ends inside a segment (`/src/gen**`, `/a**/b`) acts as a leading `**`: it crosses `/`. Kept, to agree.
    after_prefix: tuple[str, Pattern | None] | None

    @classmethod
    def parse(cls, text: str, base: str = "") -> Pattern:
        """Raises `Malformed` for a pattern that can never match, `ValueError` for one over the length bound."""
        if len(text) > MAX_PATTERN_LENGTH:
            raise ValueError(f"a pattern may be at most {MAX_PATTERN_LENGTH} characters long")
        body = text
        must_be_dir = body.endswith("/") and not body.endswith("\\/")
        body = body.rstrip("/") if must_be_dir else body
        basename_only = "/" not in body
        body = body.lstrip("/")
        if not body:
            raise Malformed("empty pattern")
        parts = _split(body)
        segments: list[_Segment | None] = []
        for part in parts:
            if len(part) >= 2 and part == "*" * len(part) and not basename_only:  # `***` is git's `**` too
                if not segments or segments[-1] is not DOUBLE_STAR:  # `a/**/**/b` is `a/**/b`
                    segments.append(DOUBLE_STAR)
            else:
                segments.append(_Segment.parse(part))
        suffix = None
        if basename_only and body.startswith("*") and not _WILD.search(body[1:]):
            suffix = body[1:]
        prefix = tuple(p for p in base.strip("/").split("/") if p) if base else ()
        after_prefix: tuple[str, Pattern | None] | None = None
        literal = body[: m.start()] if (m := _WILD.search(body)) else body
        rest = body[len(literal) :]
        if not basename_only and literal and not literal.endswith("/") and rest.startswith("**"):
            tail = rest.lstrip("*")
            if not tail:
                after_prefix = (literal, None)
            elif tail.startswith("/"):
                after_prefix = (literal, cls.parse("**" + tail))
        return cls(text, prefix, basename_only, must_be_dir, tuple(segments), suffix, after_prefix)

    def _name(self, name: str) -> bool:
        if self.suffix is not None:
            return name.endswith(self.suffix)
        segment = self.segments[0]
        assert segment is not None
        return segment.match(name)

    def matches(self, parts: Sequence[str], *, is_dir: bool = False) -> bool:
        """Whether the path given as its components matches this pattern itself (gitattributes semantics)."""
        if self.must_be_dir and not is_dir:
            return False
        base = self.base
        if base:
            if len(parts) <= len(base) or tuple(parts[: len(base)]) != base:
                return False
            parts = parts[len(base) :]
        if self.basename_only:
            return self._name(parts[-1])
        if self.after_prefix is not None:
            literal, rest = self.after_prefix
            joined = "/".join(parts)
            if not joined.startswith(literal):
                return False
            return rest is None or rest.matches(joined[len(literal) :].split("/"))
        return self._path(parts)

    def excludes(self, parts: Sequence[str]) -> bool:
        """gitignore semantics for a file: the pattern matches the file or any directory it lies in."""
        if self.basename_only and not self.base:
            start = 0
            stop = len(parts) - 1 if self.must_be_dir else len(parts)
            return any(self._name(parts[i]) for i in range(start, stop))
        return any(self.matches(parts[:k], is_dir=k < len(parts)) for k in range(1, len(parts) + 1))

    def _path(self, parts: Sequence[str]) -> bool:
        """Segments against components: the greedy algorithm again, with `**` as the star."""
        runs: list[list[_Segment]] = [[]]
        for segment in self.segments:
            if segment is DOUBLE_STAR:
                runs.append([])
            else:
                runs[-1].append(segment)
        chunks = [(run, len(run)) for run in runs if run]
        star_start = self.segments[0] is DOUBLE_STAR
        length = len(parts)
        if self.segments[-1] is DOUBLE_STAR:
            star_end = True
            if chunks:
                length -= 1  # a trailing `/**` needs at least one component after the rest
        else:
            star_end = False

        def match_at(chunk: tuple[list[_Segment], int], at: int) -> bool:
            return all(seg.match(parts[at + j]) for j, seg in enumerate(chunk[0]))

        def search(chunk: tuple[list[_Segment], int], start: int, stop: int) -> int:
            for at in range(start, stop - chunk[1] + 1):
                if match_at(chunk, at):
                    return at
            return -1

        return length >= 0 and _greedy(chunks, length, star_start, star_end, match_at, search)
