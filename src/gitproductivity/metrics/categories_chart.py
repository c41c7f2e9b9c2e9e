"""The dashboard's change-categories chart: new work, refactor, rework and help to others per bucket (stacked),
summed over the developers of `metrics.service.team_series` (docs/metrics.md, "Change categories")."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from gitproductivity.metrics.service import Totals

#: Drawn bottom to top, in this order.
SERIES = ("new_work", "refactor", "rework", "help_others")
MAX_BUCKETS = 1000  # beyond this, only buckets with activity are drawn


def _buckets(days: list[date], granularity: str) -> list[date]:
    """Every bucket from the first to the last (quiet ones as zeros), as the dashboard's other charts."""
    if not days:
        return days
    out: list[date] = []
    current = days[0]
    while current <= days[-1] and len(out) < MAX_BUCKETS:
        out.append(current)
        if granularity == "month":
            current = (current.replace(day=28) + timedelta(days=4)).replace(day=1)
        else:
            current += timedelta(days=7 if granularity == "week" else 1)
    return out if len(out) < MAX_BUCKETS else days


def data(series: dict[str, list[tuple[date, Totals]]], granularity: str) -> dict[str, Any]:
    """{"labels": [bucket start, ...], "new_work": [...], "refactor": [...], ...} summed over every developer."""
    buckets = _buckets(sorted({day for rows in series.values() for day, _ in rows}), granularity)
    index = {day: i for i, day in enumerate(buckets)}
    out: dict[str, Any] = {"labels": [day.isoformat() for day in buckets]}
    for name in SERIES:
        values = [0] * len(buckets)
        for rows in series.values():
            for day, totals in rows:
                values[index[day]] += getattr(totals, name)
        out[name] = values
    out["total"] = sum(sum(out[name]) for name in SERIES)
    return out
