"""One commit's author, as git printed it, made safe to count and store (docs/security.md, hostile commits).

git accepts nearly anything in a commit object (`git hash-object --literally`, `git fast-import`): control
characters and invalid UTF-8 in names, no e-mail, dates before 1970, past year 9999 or not numbers at all, no
author line. Nothing here raises: a field that can be made safe is normalised (and the commit counted as
`adjusted`, with the reason); a commit that leaves nothing to attribute is skipped (and counted, with the reason).
Both tallies are small and bounded: a fixed set of reasons, a count each, and a few example commits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any

#: 9999-12-31T23:59:59Z, the last second every part of the stack can hold (Python's datetime, the rollups' days).
MAX_TIME = 253_402_300_799
MAX_NAME = 200  # developers.name
MAX_EMAIL = 320  # developers.email, developer_emails.email
EXAMPLES = 3  # example commits kept per reason

# C0/C1 controls (0x1f was the reader's field separator once), DEL, line/paragraph separators, zero-width and
# bidirectional formatting characters (which make a name display as something else).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]")
_DIGITS = re.compile(rb"[0-9]{1,20}")
# What git prints for %aN / %aE when the author line cannot be parsed (or is missing): the placeholder itself.
_NO_IDENT = (b"%aN", b"%aE")


class Skipped(StrEnum):
    """Why a commit in the history was not counted."""

    UNREADABLE = "unreadable"  # git could not read it (e.g. its tree is missing): git's message is in the log
    NO_AUTHOR = "no_author"  # no author line git can parse
    MISSING_EMAIL = "missing_email"  # an author without an e-mail address
    INVALID_DATE = "invalid_date"  # neither the author nor the committer date is a number
    MALFORMED = "malformed_output"  # git's output for it did not have the expected shape


class Adjusted(StrEnum):
    """Why a counted commit's author was normalised."""

    DATE_REPLACED = "author_date_replaced"  # author date unusable: the committer date was used
    DATE_CLAMPED = "date_clamped"  # both dates past 9999-12-31: counted on that day
    CONTROL_CHARACTERS = "control_characters"  # removed from the name or e-mail
    INVALID_UTF8 = "invalid_utf8"  # bytes that are not UTF-8 replaced by U+FFFD
    TRUNCATED = "truncated"  # a name or e-mail longer than can be stored


@dataclass
class Issues:
    """Counts per reason, with up to `EXAMPLES` commit ids each; merging two keeps the bounds."""

    skipped: dict[str, int] = field(default_factory=dict)
    adjusted: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    adjusted_commits: int = 0  # a commit may have several reasons

    @property
    def skipped_commits(self) -> int:
        return sum(self.skipped.values())

    def skip(self, sha: str, reason: Skipped) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        self._example(reason, sha)

    def adjust(self, sha: str, reasons: set[Adjusted]) -> None:
        self.adjusted_commits += 1
        for reason in reasons:
            self.adjusted[reason] = self.adjusted.get(reason, 0) + 1
            self._example(reason, sha)

    def _example(self, reason: str, sha: str) -> None:
        shas = self.examples.setdefault(reason, [])
        if len(shas) < EXAMPLES:
            shas.append(sha)

    def add(self, other: Issues) -> None:
        self.adjusted_commits += other.adjusted_commits
        for mine, theirs in ((self.skipped, other.skipped), (self.adjusted, other.adjusted)):
            for reason, count in theirs.items():
                mine[reason] = mine.get(reason, 0) + count
        for reason, shas in other.examples.items():
            for sha in shas:
                self._example(reason, sha)

    def as_json(self) -> dict[str, Any]:
        """What `analyses.commit_issues` stores: reasons sorted, so equal runs store equal values."""

        def rows(counts: dict[str, int]) -> list[dict[str, Any]]:
            return [
                {"reason": str(r), "count": counts[r], "examples": list(self.examples.get(r, []))}
                for r in sorted(counts)
            ]

        return {"skipped": rows(self.skipped), "adjusted": rows(self.adjusted)}


@dataclass
class Author:
    name: str
    email: str
    when: int
    adjusted: set[Adjusted]


def author(name: bytes, email: bytes, author_time: bytes, committer_time: bytes) -> Author | Skipped:
    """The author of one commit, normalised, or why the commit cannot be attributed."""
    # Cached for the few authors who write most commits; a hostile history of huge distinct names is not kept.
    who = _cached_identity(name, email) if len(name) + len(email) <= 1024 else _identity(name, email)
    if isinstance(who, Skipped):
        return who
    adjusted = set(who[2])
    when = _time(author_time, committer_time, adjusted)
    if when is None:
        return Skipped.INVALID_DATE
    return Author(who[0], who[1], when, adjusted)


def _identity(name: bytes, email: bytes) -> tuple[str, str, frozenset[Adjusted]] | Skipped:
    if (name, email) == _NO_IDENT:
        return Skipped.NO_AUTHOR
    adjusted: set[Adjusted] = set()
    clean_email = "".join(_text(email, adjusted).split())[:MAX_EMAIL]
    if not clean_email:
        return Skipped.MISSING_EMAIL
    if len(clean_email) == MAX_EMAIL:
        adjusted.add(Adjusted.TRUNCATED)
    clean_name = " ".join(_text(name, adjusted).split())
    if len(clean_name) > MAX_NAME:
        clean_name = clean_name[:MAX_NAME].rstrip()
        adjusted.add(Adjusted.TRUNCATED)
    return clean_name, clean_email, frozenset(adjusted)


def _text(raw: bytes, adjusted: set[Adjusted]) -> str:
    text = raw.decode("utf-8", "replace")
    if "\ufffd" in text and text.count("\ufffd") != raw.decode("utf-8", "ignore").count("\ufffd"):
        adjusted.add(Adjusted.INVALID_UTF8)
    cleaned = _CONTROL.sub(" ", text)
    if cleaned != text:
        adjusted.add(Adjusted.CONTROL_CHARACTERS)
    return cleaned


def _time(author_time: bytes, committer_time: bytes, adjusted: set[Adjusted]) -> int | None:
    """Seconds since 1970 within [0, MAX_TIME]. git prints nothing for a negative or non-numeric date and any
    number it parsed (up to 2**64) otherwise; the author date is used when it is in range, then the committer's."""
    at = int(author_time) if _DIGITS.fullmatch(author_time) else None
    if at is not None and at <= MAX_TIME:
        return at
    ct = int(committer_time) if _DIGITS.fullmatch(committer_time) else None
    if ct is not None and ct <= MAX_TIME:
        adjusted.add(Adjusted.DATE_REPLACED)
        return ct
    if at is not None or ct is not None:
        adjusted.add(Adjusted.DATE_CLAMPED)
        return MAX_TIME
    return None


_cached_identity = lru_cache(maxsize=16_384)(_identity)
