"""The dashboard's change-categories chart: new work, refactor, rework and help to others per bucket (stacked),
summed by the database over the dashboard's scope (docs/metrics.md, "Change categories")."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gitproductivity.metrics import series
from gitproductivity.metrics.models import DailyRollup
from gitproductivity.metrics.service import Scope

#: Drawn bottom to top, in this order.
SERIES = ("new_work", "refactor", "rework", "help_others")


def fold_rows(rows: Iterable[Sequence[Any]], axis: Sequence[date], granularity: str) -> dict[str, Any]:
    """(day, new_work, refactor, rework, help_others) rows -> {"labels": [bucket start, ...], "new_work": [...],
    ..., "total": n}, one value per bucket of `axis` (quiet buckets are zeros, as in the dashboard's other charts)."""
    found = list(rows)
    out: dict[str, Any] = {"labels": [day.isoformat() for day in axis]}
    for i, name in enumerate(SERIES, start=1):
        out[name] = series.fold(((row[0], int(row[i])) for row in found), axis, granularity)
    out["total"] = sum(sum(out[name]) for name in SERIES)
    return out


def data(session: Session, scope: Scope, *, start: date, end: date, granularity: str) -> dict[str, Any]:
    """The chart's JSON for the dashboard's scope over [start, end]: one aggregate query, grouped by day."""
    stmt = select(DailyRollup.day, *[func.sum(getattr(DailyRollup, name)) for name in SERIES])
    rows = session.execute(scope.where(stmt).group_by(DailyRollup.day))
    return fold_rows(rows, series.buckets(start, end, granularity), granularity)
