"""The dashboard's figures over time, summed by the database: a real time axis with quiet periods as gaps.

The database sums the daily rollups per day (at most one row a day, whatever the team size), and per day for the
few top developers only; Python then folds those days into weeks or months over *every* bucket of the range, so
a week without commits is a zero at its own place on the axis, never dropped. Nothing here loops over developers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gitproductivity.metrics.models import DailyRollup
from gitproductivity.metrics.service import Scope, bucket_start

#: More buckets than this on one axis are unreadable (and heavy): a longer range is drawn a step coarser.
MAX_BUCKETS = 600
COARSER = {"day": "week", "week": "month"}


def next_bucket(day: date, granularity: str) -> date:
    if granularity == "month":
        return (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return day + timedelta(days=7 if granularity == "week" else 1)


def bucket_count(start: date, end: date, granularity: str) -> int:
    first, last = bucket_start(start, granularity), bucket_start(end, granularity)
    if granularity == "month":
        return (last.year - first.year) * 12 + last.month - first.month + 1
    return (last - first).days // (7 if granularity == "week" else 1) + 1


def fit_granularity(start: date, end: date, granularity: str) -> str:
    """`granularity`, or the first coarser one that draws the range in at most MAX_BUCKETS buckets."""
    while granularity in COARSER and bucket_count(start, end, granularity) > MAX_BUCKETS:
        granularity = COARSER[granularity]
    return granularity


def buckets(start: date, end: date, granularity: str) -> list[date]:
    """Every bucket from the one holding `start` to the one holding `end`, in order: the time axis."""
    out: list[date] = []
    current, last = bucket_start(start, granularity), bucket_start(end, granularity)
    while current <= last:
        out.append(current)
        current = next_bucket(current, granularity)
    return out


def fold(rows: Iterable[tuple[date, int]], axis: Sequence[date], granularity: str) -> list[int]:
    """Daily values summed into the axis' buckets (zero where nothing happened); days off the axis are ignored."""
    index = {day: i for i, day in enumerate(axis)}
    values = [0] * len(axis)
    for day, value in rows:
        i = index.get(bucket_start(day, granularity))
        if i is not None:
            values[i] += int(value)
    return values


@dataclass
class Day:
    day: date
    commits: int
    lines_added: int
    lines_deleted: int


def days(session: Session, scope: Scope) -> list[Day]:
    """The scope's sums per UTC day with activity, oldest first: one row a day, computed by the database."""
    stmt = select(
        DailyRollup.day,
        func.sum(DailyRollup.commits),
        func.sum(DailyRollup.lines_added),
        func.sum(DailyRollup.lines_deleted),
    )
    stmt = scope.where(stmt).group_by(DailyRollup.day).order_by(DailyRollup.day)
    return [Day(day, int(c), int(a), int(d)) for day, c, a, d in session.execute(stmt)]


def developer_days(session: Session, scope: Scope, developer_ids: Sequence[str]) -> dict[str, list[tuple[date, int]]]:
    """Commits per day of a few developers (the top of the chart), summed by the database."""
    if not developer_ids:
        return {}
    stmt = select(DailyRollup.developer_id, DailyRollup.day, func.sum(DailyRollup.commits))
    stmt = scope.where(stmt).where(DailyRollup.developer_id.in_(list(developer_ids)))
    out: dict[str, list[tuple[date, int]]] = {dev: [] for dev in developer_ids}
    for dev, day, commits in session.execute(stmt.group_by(DailyRollup.developer_id, DailyRollup.day)):
        out[dev].append((day, int(commits)))
    return out


def chart(
    found: Sequence[Day],
    top: Sequence[tuple[str, str]],
    top_days: dict[str, list[tuple[date, int]]],
    *,
    start: date,
    end: date,
    granularity: str,
) -> dict[str, Any]:
    """The JSON the charts draw: one label per bucket of [start, end], the team's sums, and the commits of the
    `top` developers (id, name) stacked with everyone else's (the team's minus theirs) on top."""
    axis = buckets(start, end, granularity)
    commits = fold(((d.day, d.commits) for d in found), axis, granularity)
    per_developer = [fold(top_days.get(dev, []), axis, granularity) for dev, _ in top]
    stacked: list[dict[str, Any]] = [
        {"name": name, "commits": values} for (_, name), values in zip(top, per_developer, strict=True)
    ]
    rest = [total - sum(values[i] for values in per_developer) for i, total in enumerate(commits)]
    if any(rest):
        stacked.append({"name": "Everyone else", "commits": rest, "rest": True})
    return {
        "granularity": granularity,
        "labels": [day.isoformat() for day in axis],
        "commits": commits,
        "lines_added": fold(((d.day, d.lines_added) for d in found), axis, granularity),
        "lines_deleted": fold(((d.day, d.lines_deleted) for d in found), axis, granularity),
        "per_developer": stacked,
    }
