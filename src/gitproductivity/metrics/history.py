"""One developer's history for their page: totals over a range, the same per period, and per repository.

Each is one aggregate over the daily rollups, summed by the database: a developer with twenty years in forty
repositories sends Python one row per period (at most a few hundred) and one row per repository, never a row per
rollup. Periods are weeks (Monday start), months or years; a period without activity has no row (the page draws
it as a gap at its place in time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import BigInteger, Select, cast, extract, func, select
from sqlalchemy.orm import Session

from gitproductivity.core.errors import ValidationFailed
from gitproductivity.metrics.models import DailyRollup
from gitproductivity.metrics.service import COUNTERS, Totals, _totals, bucket_start
from gitproductivity.repositories.models import Repository

PERIODS = ("week", "month", "year")


@dataclass(frozen=True)
class RepositoryFigures:
    """A developer's totals in one repository of their organisation."""

    repository_id: str
    name: str
    status: str
    totals: Totals


def _sums() -> list[Any]:
    return [
        *[cast(func.sum(getattr(DailyRollup, name)), BigInteger) for name in COUNTERS],
        func.count(func.distinct(DailyRollup.day)),
        func.min(DailyRollup.first_commit_at),
        func.max(DailyRollup.last_commit_at),
    ]


def _mine(stmt: Select[Any], organization_id: str, developer_id: str, start: date | None, end: date | None) -> Any:
    stmt = stmt.where(DailyRollup.organization_id == organization_id, DailyRollup.developer_id == developer_id)
    if start:
        stmt = stmt.where(DailyRollup.day >= start)
    if end:
        stmt = stmt.where(DailyRollup.day <= end)
    return stmt


def _check(start: date | None, end: date | None) -> None:
    if start and end and start > end:
        raise ValidationFailed("from must not be after to", details=[{"field": "from", "message": "after to"}])


def developer_totals(
    session: Session, *, organization_id: str, developer_id: str, start: date | None = None, end: date | None = None
) -> Totals:
    """A developer's totals over a range of UTC days (inclusive; None: unbounded), over all their repositories."""
    _check(start, end)
    row = session.execute(_mine(select(*_sums()), organization_id, developer_id, start, end)).one()
    return Totals() if row[-1] is None else _totals(row)


def developer_periods(
    session: Session,
    *,
    organization_id: str,
    developer_id: str,
    period: str,
    start: date | None = None,
    end: date | None = None,
) -> list[tuple[date, Totals]]:
    """A developer's totals per week, month or year with activity, oldest first, keyed by the period's first day.

    Months and years are grouped by the database; weeks are the database's per-day sums (at most 371 rows for a
    year's range) folded into Monday weeks, as the week of a date is written differently by each database.
    """
    if period not in PERIODS:
        raise ValidationFailed(
            f"period must be one of {', '.join(PERIODS)}",
            details=[{"field": "period", "message": f"one of {', '.join(PERIODS)}"}],
        )
    _check(start, end)
    if period == "week":
        keys: list[Any] = [DailyRollup.day]
    else:
        keys = [extract("year", DailyRollup.day)]
        if period == "month":
            keys.append(extract("month", DailyRollup.day))
    stmt = _mine(select(*keys, *_sums()), organization_id, developer_id, start, end)
    rows = session.execute(stmt.group_by(*keys).order_by(*keys))
    if period != "week":
        return [
            (date(int(row[0]), int(row[1]) if period == "month" else 1, 1), _totals(row[len(keys) :])) for row in rows
        ]
    weeks: dict[date, Totals] = {}
    for day, *values in rows:
        _fold(weeks.setdefault(bucket_start(day, "week"), Totals()), _totals(values))
    return sorted(weeks.items())


def _fold(into: Totals, one_day: Totals) -> None:
    """Add one day's sums to a week's (each day is one active day at most)."""
    for name in COUNTERS:
        setattr(into, name, getattr(into, name) + getattr(one_day, name))
    into.active_days += one_day.active_days
    for bound, better in (("first_commit_at", min), ("last_commit_at", max)):
        mine, theirs = getattr(into, bound), getattr(one_day, bound)
        setattr(into, bound, theirs if mine is None else better(mine, theirs))


def developer_repositories(
    session: Session, *, organization_id: str, developer_id: str, start: date | None = None, end: date | None = None
) -> list[RepositoryFigures]:
    """The repositories a developer has commits in over the range, with their totals in each, most commits first."""
    _check(start, end)
    sums = _mine(select(DailyRollup.repository_id, *_sums()), organization_id, developer_id, start, end)
    totals = sums.group_by(DailyRollup.repository_id).subquery()
    stmt = select(Repository.id, Repository.name, Repository.status, *list(totals.c)[1:]).join(
        totals, totals.c.repository_id == Repository.id
    )
    found = [
        RepositoryFigures(repository_id=rid, name=name, status=str(status), totals=_totals(values))
        for rid, name, status, *values in session.execute(stmt)
    ]
    return sorted(found, key=lambda r: (-r.totals.commits, r.name.lower(), r.repository_id))


def period_for(start: date, end: date) -> str:
    """The period that draws a range in at most about 120 bars: weeks up to two years, months up to ten."""
    days = (end - start).days
    if days <= 731:
        return "week"
    return "month" if days <= 3660 else "year"


def period_end(first_day: date, period: str) -> date:
    """The day after the last day of the period that starts on `first_day`."""
    if period == "week":
        return first_day + timedelta(days=7)
    if period == "month":
        return date(first_day.year + first_day.month // 12, first_day.month % 12 + 1, 1)
    return date(first_day.year + 1, 1, 1)
