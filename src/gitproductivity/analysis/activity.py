"""Languages and hours of the week, gathered by the reader from what it already reads (docs/metrics.md).

- **Languages**: a non-merge commit's lines added and deleted, and files changed, per language of each counted
  file (`analysis.languages`, by name); excluded and binary files count nothing, as in the rollups, so a day's
  languages sum to its `lines_added`, `lines_deleted` and `files_changed`.
- **Hours**: each non-merge commit once, at the hour of the week of its author date in the author's own time
  zone (the offset git recorded with the date): 0 is Monday 00:00-00:59, 167 Sunday 23:00-23:59. Both are kept
  per identity and UTC day (the rollups' day), so any date range sums them.
"""

from __future__ import annotations

from typing import Protocol

from gitproductivity.analysis import languages

SECONDS_PER_DAY = 86_400
HOURS_PER_WEEK = 168
#: The widest offsets in use are -12:00 and +14:00; git accepts any four digits. Anything outside
#: [-14:00, +14:00], or not of the form +hhmm with mm < 60, counts as UTC.
MAX_OFFSET_MINUTES = 14 * 60

#: (identity, day, language) -> [lines added, lines deleted, files changed]
Languages = dict[tuple[str, int, str], list[int]]
#: (identity, day, hour of the week) -> commits
Hours = dict[tuple[str, int, int], int]


class _Commit(Protocol):
    offset: int
    languages: dict[str, list[int]] | None


def offset(raw_date: bytes) -> int:
    """Minutes east of UTC from git's raw date (`1700000000 +0530`); 0 when unusable."""
    seconds, _, zone = raw_date.partition(b" ")  # parsed by hand: no pattern to backtrack on hostile input
    if not seconds.isdigit() or len(zone) != 5 or zone[:1] not in (b"+", b"-") or not zone[1:].isdigit():
        return 0
    sign, hours, minutes = zone[:1], zone[1:3], zone[3:5]
    if int(minutes) >= 60:
        return 0
    total = int(hours) * 60 + int(minutes)
    if total > MAX_OFFSET_MINUTES:
        return 0
    return -total if sign == b"-" else total


def hour_of_week(when: int, offset_minutes: int) -> int:
    """0-167, Monday 00:00 first, of the UTC time `when` seen at `offset_minutes` east of UTC."""
    local = when + offset_minutes * 60
    weekday = (local // SECONDS_PER_DAY + 3) % 7  # 1970-01-01 was a Thursday (Monday = 0)
    return weekday * 24 + (local % SECONDS_PER_DAY) // 3600


class Collector:
    """One parser's per-commit gathering; a path's language is looked up once per parser."""

    def __init__(self) -> None:
        self._cache: dict[bytes, str] = {}

    def file(self, commit: _Commit, path: bytes, added: int, deleted: int) -> None:
        language = self._cache.get(path)
        if language is None:
            language = self._cache[path] = languages.of(path.decode("utf-8", "replace"))
        found = commit.languages
        if found is None:
            found = commit.languages = {}
        sums = found.get(language)
        if sums is None:
            found[language] = [added, deleted, 1]
        else:
            sums[0] += added
            sums[1] += deleted
            sums[2] += 1

    def commit(self, langs: Languages, hours: Hours, identity: str, when: int, commit: _Commit) -> None:
        """A counted non-merge commit by `identity` at `when` (its author time, UTC seconds)."""
        day = when // SECONDS_PER_DAY
        key = (identity, day, hour_of_week(when, commit.offset))
        hours[key] = hours.get(key, 0) + 1
        if commit.languages:
            for language, (added, deleted, files) in commit.languages.items():
                row = langs.get((identity, day, language))
                if row is None:
                    langs[(identity, day, language)] = [added, deleted, files]
                else:
                    row[0] += added
                    row[1] += deleted
                    row[2] += files


def add(langs: Languages, hours: Hours, other_langs: Languages, other_hours: Hours) -> None:
    """Add another shard's languages and hours into these."""
    for key, values in other_langs.items():
        row = langs.get(key)
        if row is None:
            langs[key] = list(values)
        else:
            for i in range(3):
                row[i] += values[i]
    for hour_key, count in other_hours.items():
        hours[hour_key] = hours.get(hour_key, 0) + count
