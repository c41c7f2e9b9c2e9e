"""The dashboard: charts over `metrics.service` (team and per developer, date range, repository filter)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from gitproductivity.core.errors import DomainError, NotFound
from gitproductivity.core.http import unit_of_work
from gitproductivity.developers import service as developers
from gitproductivity.metrics import categories_chart, service
from gitproductivity.repositories import service as repositories
from gitproductivity.teams import service as teams
from gitproductivity.web.helpers import CurrentViewer, page_allows, render
from gitproductivity.web.security import guard

router = APIRouter(
    prefix="/dashboard", include_in_schema=False, dependencies=[Depends(guard), page_allows("the dashboard")]
)

TOP = 10  # contributors in the top chart
LINES = 6  # developers drawn in the per-developer chart
MAX_BUCKETS = 1000  # beyond this, only buckets with activity are drawn


@dataclass
class Filters:
    start: date | None
    end: date | None
    repository_id: str | None
    developer_id: str | None
    granularity: str
    team_id: str | None = None


def _day(value: str | None, label: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"The {label} date must look like 2026-03-19.") from None


@router.get("")
def dashboard(
    request: Request,
    viewer: CurrentViewer,
    start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
    repository: str | None = None,
    developer: str | None = None,
    granularity: str = "week",
    team_id: str | None = None,
) -> Response:
    error = None
    try:
        filters = Filters(
            _day(start, "from"), _day(end, "to"), repository or None, developer or None, granularity, team_id or None
        )
    except ValueError as exc:
        error = str(exc)
        filters = Filters(None, None, repository or None, developer or None, granularity, team_id or None)
    org = viewer.organization_id
    summary: list[tuple[Any, service.Totals]] = []
    series: dict[str, list[tuple[date, service.Totals]]] = {}
    with unit_of_work() as session:
        repos = repositories.list_(session, organization_id=org, limit=1000)[:1000]
        people = [d for d in developers.list_(session, organization_id=org, limit=5000)[:5000] if not d.is_bot]
        groups = teams.list_(session, organization_id=org, limit=500)[0]
        try:
            summary = service.developers_summary(
                session,
                organization_id=org,
                repository_id=filters.repository_id,
                team_id=filters.team_id,
                start=filters.start,
                end=filters.end,
            )
            series = service.team_series(
                session,
                organization_id=org,
                granularity=filters.granularity,
                repository_id=filters.repository_id,
                team_id=filters.team_id,
                start=filters.start,
                end=filters.end,
            )
        except NotFound:
            error = "That team or repository does not exist (any more): choose another."
        except DomainError as exc:
            error = exc.message
    if filters.developer_id:
        summary = [(d, t) for d, t in summary if d.id == filters.developer_id]
        series = {k: v for k, v in series.items() if k == filters.developer_id}
    return render(
        request,
        "dashboard.html",
        viewer,
        filters=filters,
        error=error,
        repositories=repos,
        developers=people,
        teams=groups,
        subject=summary[0][0].name if filters.developer_id and summary else None,
        has_data=bool(summary),
        totals={
            "commits": sum(t.commits for _, t in summary),
            "lines_added": sum(t.lines_added for _, t in summary),
            "lines_deleted": sum(t.lines_deleted for _, t in summary),
            "developers": len(summary),
        },
        contributors=summary,
        chart=_chart(summary, series, filters.granularity),
        categories=categories_chart.data(series, filters.granularity),
    )


def _fill(days: list[date], granularity: str) -> list[date]:
    """Every bucket from the first to the last, so quiet weeks show as gaps (up to MAX_BUCKETS of them)."""
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


def _chart(
    summary: list[tuple[Any, service.Totals]],
    series: dict[str, list[tuple[date, service.Totals]]],
    granularity: str,
) -> dict[str, Any]:
    """The JSON the charts draw: one label per bucket, team sums, and the top developers' own lines."""
    buckets = _fill(sorted({day for rows in series.values() for day, _ in rows}), granularity)
    index = {day: i for i, day in enumerate(buckets)}

    def column(rows: list[tuple[date, service.Totals]], name: str) -> list[int]:
        values = [0] * len(buckets)
        for day, totals in rows:
            values[index[day]] += getattr(totals, name)
        return values

    every = [row for rows in series.values() for row in rows]
    return {
        "labels": [day.isoformat() for day in buckets],
        "commits": column(every, "commits"),
        "lines_added": column(every, "lines_added"),
        "lines_deleted": column(every, "lines_deleted"),
        "per_developer": [
            {"name": dev.name, "commits": column(series.get(dev.id, []), "commits")} for dev, _ in summary[:LINES]
        ],
        "top": [{"name": dev.name, "commits": totals.commits} for dev, totals in summary[:TOP]],
    }
