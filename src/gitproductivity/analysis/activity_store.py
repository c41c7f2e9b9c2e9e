"""Storing a run's languages and hours of the week (analysis.activity) in the run's own transaction.

A full read replaces the repository's rows; an incremental one adds its sums to the rows already there, exactly
as the daily rollups do (analysis.store), so both end with the same rows. Identities are summed per developer
(aliases, merged people) through the same `owner` map as the rollups.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, select, tuple_
from sqlalchemy.orm import Session

from gitproductivity.analysis import activity
from gitproductivity.core.db import bulk_write
from gitproductivity.metrics.activity_models import HourRollup, LanguageRollup

_LANGUAGES = cast(Table, LanguageRollup.__table__)
_HOURS = cast(Table, HourRollup.__table__)
_CHUNK = 300


def _day(ordinal: int) -> date:
    return date(1970, 1, 1) + timedelta(days=ordinal)


def save(
    session: Session,
    *,
    organization_id: str,
    repository_id: str,
    languages: activity.Languages,
    hours: activity.Hours,
    owner: dict[str, str],
    full: bool,
) -> None:
    by_day: dict[tuple[str, int, str], list[int]] = {}
    for (email, day, language), values in languages.items():
        key = (owner[email], day, language)
        row = by_day.get(key)
        if row is None:
            by_day[key] = list(values)
        else:  # aliases of one developer
            for i in range(3):
                row[i] += values[i]
    counts: dict[tuple[str, int, int], int] = {}
    for (email, day, hour), n in hours.items():
        hour_key = (owner[email], day, hour)
        counts[hour_key] = counts.get(hour_key, 0) + n
    if full:
        # Tens of thousands of rows: written as the rollups are (core.db.bulk_write: COPY / executemany), each
        # day bound once, in primary-key order (a day's ordinal sorts as the day does).
        session.execute(delete(LanguageRollup).where(LanguageRollup.repository_id == repository_id))
        session.execute(delete(HourRollup).where(HourRollup.repository_id == repository_id))
        bound = _day_binder(session)
        languages_rows = [
            [repository_id, dev, bound(day), language, organization_id, *values]
            for (dev, day, language), values in sorted(by_day.items())
        ]
        bulk_write(session, _LANGUAGES, _LANGUAGE_COLUMNS, languages_rows)
        hour_rows = [
            [repository_id, dev, bound(day), hour, organization_id, n] for (dev, day, hour), n in sorted(counts.items())
        ]
        bulk_write(session, _HOURS, _HOUR_COLUMNS, hour_rows)
        return
    base = {"repository_id": repository_id, "organization_id": organization_id}
    _add_languages(session, repository_id, base, {(d, _day(n), lang): v for (d, n, lang), v in by_day.items()})
    _add_hours(session, repository_id, base, {(d, _day(n), h): c for (d, n, h), c in counts.items()})


_LANGUAGE_COLUMNS = (
    "repository_id",
    "developer_id",
    "day",
    "language",
    "organization_id",
    "lines_added",
    "lines_deleted",
    "files_changed",
)
_HOUR_COLUMNS = ("repository_id", "developer_id", "day", "hour", "organization_id", "commits")


def _day_binder(session: Session) -> Callable[[int], Any]:
    """A day's ordinal as the `day` column binds it on this database (its bind processor, once per day). The
    other columns are strings and integers, which no dialect here processes (`core.db.bind_values`)."""
    process = _LANGUAGES.c.day.type._cached_bind_processor(session.get_bind().dialect)
    cache: dict[int, Any] = {}

    def bound(ordinal: int) -> Any:
        value = cache.get(ordinal)
        if value is None:
            day = _day(ordinal)
            value = cache[ordinal] = process(day) if process else day
        return value

    return bound


def _language_row(base: dict[str, str], key: tuple[str, date, str], v: list[int]) -> dict[str, Any]:
    dev, day, language = key
    return {
        **base,
        "developer_id": dev,
        "day": day,
        "language": language,
        "lines_added": v[0],
        "lines_deleted": v[1],
        "files_changed": v[2],
    }


def _hour_row(base: dict[str, str], key: tuple[str, date, int], n: int) -> dict[str, Any]:
    dev, day, hour = key
    return {**base, "developer_id": dev, "day": day, "hour": hour, "commits": n}


def _add_languages(
    session: Session, repository_id: str, base: dict[str, str], rows: dict[tuple[str, date, str], list[int]]
) -> None:
    keys = list(rows)
    existing: dict[tuple[str, date, str], LanguageRollup] = {}
    for start in range(0, len(keys), _CHUNK):
        stmt = select(LanguageRollup).where(
            LanguageRollup.repository_id == repository_id,
            tuple_(LanguageRollup.developer_id, LanguageRollup.day, LanguageRollup.language).in_(
                keys[start : start + _CHUNK]
            ),
        )
        existing.update({(r.developer_id, r.day, r.language): r for r in session.scalars(stmt)})
    for key, v in rows.items():
        found = existing.get(key)
        if found is None:
            session.add(LanguageRollup(**_language_row(base, key, v)))
        else:
            found.lines_added += v[0]
            found.lines_deleted += v[1]
            found.files_changed += v[2]


def _add_hours(
    session: Session, repository_id: str, base: dict[str, str], rows: dict[tuple[str, date, int], int]
) -> None:
    keys = list(rows)
    existing: dict[tuple[str, date, int], HourRollup] = {}
    for start in range(0, len(keys), _CHUNK):
        stmt = select(HourRollup).where(
            HourRollup.repository_id == repository_id,
            tuple_(HourRollup.developer_id, HourRollup.day, HourRollup.hour).in_(keys[start : start + _CHUNK]),
        )
        existing.update({(r.developer_id, r.day, r.hour): r for r in session.scalars(stmt)})
    for key, n in rows.items():
        found = existing.get(key)
        if found is None:
            session.add(HourRollup(**_hour_row(base, key, n)))
        else:
            found.commits += n
