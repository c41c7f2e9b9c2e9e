"""The dashboard: the last 12 months by default, on a real time axis, the top contributors and a paged list of all.

Every figure is summed by the database (`metrics.series`, `metrics.table`): the page costs a few aggregate queries
whatever the team size, and sends the top of each list, never all 2,500 people (`/dashboard/contributors` pages
through them; the developer picker asks `/dashboard/developer-options` as one types).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import func, select

from gitproductivity.core.clock import utcnow
from gitproductivity.core.errors import DomainError, NotFound
from gitproductivity.core.http import unit_of_work
from gitproductivity.core.pagination import parse_sort
from gitproductivity.developers import service as developers
from gitproductivity.developers.models import Developer
from gitproductivity.metrics import categories_chart, series, table
from gitproductivity.metrics.service import Scope
from gitproductivity.repositories import service as repositories
from gitproductivity.teams import service as teams
from gitproductivity.web.helpers import CurrentViewer, page_allows, render
from gitproductivity.web.security import guard

router = APIRouter(
    prefix="/dashboard", include_in_schema=False, dependencies=[Depends(guard), page_allows("the dashboard")]
)

TOP = 10  # contributors in the top chart and table; "show all" pages through the rest
STACKED = 5  # developers drawn apart in the per-developer chart, everyone else summed on top of them
OPTIONS = 20  # developers the picker suggests at a time
PAGE = 50  # rows per page of the contributors list
#: The range picker: a preset (days back from today, None for all time), or the dates typed ("custom").
RANGES = {"12m": "Last 12 months", "3m": "Last 3 months", "30d": "Last 30 days", "all": "All time", "custom": "Dates"}
DEFAULT_RANGE = "12m"
GRANULARITIES = ("day", "week", "month")
LIST_SORTS = ("name", "commits", "lines_added", "lines_deleted", "files_changed", "active_days")


@dataclass
class Filters:
    """The dashboard's filters as asked (`start`/`end` typed; `range` a preset or "custom")."""

    start: date | None
    end: date | None
    repository_id: str | None
    developer_id: str | None
    granularity: str
    team_id: str | None = None
    range: str = DEFAULT_RANGE

    def query(self, **changes: Any) -> str:
        """These filters as a query string (with `changes`), for links that keep them."""
        f = replace(self, **changes)
        pairs = {
            "range": f.range if f.range != DEFAULT_RANGE else None,
            "from": f.start.isoformat() if f.start and f.range == "custom" else None,
            "to": f.end.isoformat() if f.end and f.range == "custom" else None,
            "repository": f.repository_id,
            "team_id": f.team_id,
            "developer": f.developer_id,
            "granularity": f.granularity if f.granularity != "week" else None,
        }
        return urlencode({k: v for k, v in pairs.items() if v})


def _day(value: str | None, label: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"The {label} date must look like 2026-03-19.") from None


def _year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def resolve_range(choice: str, start: date | None, end: date | None, today: date) -> tuple[date | None, date | None]:
    """The days a range covers (inclusive; None: open on that side). Presets end today."""
    if choice == "custom":
        return start, end
    if choice == "all":
        return None, None
    if choice == "3m":
        return today - timedelta(days=91), today
    if choice == "30d":
        return today - timedelta(days=29), today
    return _year_before(today) + timedelta(days=1), today


def _filters(
    range_: str | None,
    start: str | None,
    end: str | None,
    repository: str | None,
    developer: str | None,
    granularity: str | None,
    team_id: str | None,
) -> tuple[Filters, str | None]:
    choice = range_ if range_ in RANGES else ("custom" if (start or end) and not range_ else DEFAULT_RANGE)
    gran = granularity if granularity in GRANULARITIES else "week"
    base = Filters(None, None, repository or None, developer or None, gran, team_id or None, choice)
    try:
        return replace(base, start=_day(start, "from"), end=_day(end, "to")), None
    except ValueError as exc:
        return replace(base, range=DEFAULT_RANGE), str(exc)


@dataclass
class Asked:
    """The dashboard's query string, read once for every page of it: the filters, an error in words, the days."""

    filters: Filters
    error: str | None
    first: date | None
    last: date | None


Picked = Annotated[str | None, Query()]


def _asked(
    range_: Annotated[str | None, Query(alias="range")] = None,
    start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
    repository: Picked = None,
    developer: Picked = None,
    granularity: Picked = None,
    team_id: Picked = None,
) -> Asked:
    filters, error = _filters(range_, start, end, repository, developer, granularity, team_id)
    first, last = resolve_range(filters.range, filters.start, filters.end, utcnow().date())
    return Asked(filters, error, first, last)


DashboardQuery = Annotated[Asked, Depends(_asked)]


@router.get("")
def dashboard(request: Request, viewer: CurrentViewer, asked: DashboardQuery) -> Response:
    filters, error, first, last = asked.filters, asked.error, asked.first, asked.last
    org = viewer.organization_id
    scope = Scope(org, filters.repository_id, filters.team_id, filters.developer_id, first, last)
    context: dict[str, Any] = {"has_data": False, "top": [], "contributors_total": 0, "chart": None, "categories": None}
    with unit_of_work(read_only=True) as session:
        repos = repositories.list_(session, organization_id=org, limit=1000)[:1000]
        groups = teams.list_(session, organization_id=org, limit=500)[0]
        picked = _developer(session, org, filters.developer_id)
        try:
            if not error:
                context = _figures(session, scope, filters)
        except NotFound:
            error = "That team or repository does not exist (any more): choose another."
        except DomainError as exc:
            error = exc.message
    team = next((t for t in groups if t.id == filters.team_id), None)
    return render(
        request,
        "dashboard.html",
        viewer,
        filters=filters,
        error=error,
        ranges=RANGES,
        shown_from=first,
        shown_to=last,
        repositories=repos,
        teams=groups,
        team=team,
        picked=picked,
        subject=picked.name if picked else None,
        **context,
    )


def _developer(session: Any, org: str, developer_id: str | None) -> Developer | None:
    if not developer_id:
        return None
    try:
        return developers.get(session, organization_id=org, developer_id=developer_id)
    except DomainError:
        return None


def _figures(session: Any, scope: Scope, filters: Filters) -> dict[str, Any]:
    """Stats, charts and the top contributors of the scope: a handful of aggregate queries."""
    top, total, _cursor = table.developers_page(
        session,
        organization_id=scope.organization_id,
        sort=parse_sort(None, allowed=table.SORTS, default=table.DEFAULT_SORT),
        repository_id=scope.repository_id,
        team_id=scope.team_id,
        start=scope.start,
        end=scope.end,
        limit=TOP,
    )
    found = series.days(session, scope)
    if not found:
        return {"has_data": False, "top": top, "contributors_total": total, "chart": None, "categories": None}
    start = scope.start or found[0].day
    end = scope.end or found[-1].day
    granularity = series.fit_granularity(start, end, filters.granularity)
    stacked = [] if scope.developer_id else [(r["developer_id"], r["name"]) for r in top[:STACKED]]
    chart = series.chart(
        found,
        stacked,
        series.developer_days(session, scope, [dev for dev, _ in stacked]),
        start=start,
        end=end,
        granularity=granularity,
    )
    chart["top"] = [{"name": r["name"], "commits": r["totals"]["commits"]} for r in top]
    return {
        "has_data": True,
        "granularity": granularity,
        "totals": {
            "commits": sum(d.commits for d in found),
            "lines_added": sum(d.lines_added for d in found),
            "lines_deleted": sum(d.lines_deleted for d in found),
            "developers": 1 if scope.developer_id else total,
        },
        "top": top,
        "contributors_total": total,
        "chart": chart,
        "categories": categories_chart.data(session, scope, start=start, end=end, granularity=granularity),
    }


@router.get("/developer-options")
def developer_options(viewer: CurrentViewer, q: Picked = None, team_id: Picked = None) -> Response:
    """The developer picker's suggestions: people (no bots) whose name or e-mail contains `q`, in `team_id` if
    given, by name; at most OPTIONS of them."""
    org = viewer.organization_id
    stmt = select(Developer.id, Developer.name, Developer.email).where(
        Developer.organization_id == org, Developer.removed_at.is_(None), Developer.is_bot.is_(False)
    )
    if q and q.strip():
        stmt = stmt.where(developers.matching(q[:200]))
    with unit_of_work(read_only=True) as session:
        if team_id:
            try:
                teams.get(session, organization_id=org, team_id=team_id)
            except DomainError:
                return JSONResponse({"options": []})
            stmt = stmt.where(Developer.id.in_(teams.member_ids(team_id=team_id)))
        rows = session.execute(stmt.order_by(func.lower(Developer.name), Developer.id).limit(OPTIONS)).all()
    options = [{"id": dev_id, "label": option_label(name, email)} for dev_id, name, email in rows]
    return JSONResponse({"options": options}, headers={"Cache-Control": "no-store"})


def option_label(name: str, email: str) -> str:
    """How the developer picker names a person: unique (the e-mail), and searchable by either."""
    return f"{name} <{email}>"


@router.get("/contributors")
def contributors(
    request: Request,
    viewer: CurrentViewer,
    asked: DashboardQuery,
    sort: Annotated[str | None, Query(max_length=40)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    after: Annotated[str | None, Query(max_length=4096)] = None,
) -> Response:
    """Everyone with activity in the dashboard's scope, PAGE at a time, sorted by any column, searchable."""
    filters, error, first, last = asked.filters, asked.error, asked.first, asked.last
    known = sort if sort and sort.lstrip("-") in LIST_SORTS else None
    order = parse_sort(known, allowed=LIST_SORTS, default="-commits")
    rows: list[dict[str, Any]] = []
    total, cursor = 0, None
    with unit_of_work(read_only=True) as session:
        try:
            if not error:
                rows, total, cursor = table.developers_page(
                    session,
                    organization_id=viewer.organization_id,
                    sort=order,
                    repository_id=filters.repository_id,
                    team_id=filters.team_id,
                    start=first,
                    end=last,
                    q=q,
                    after=after,
                    limit=PAGE,
                )
        except NotFound:
            error = "That team or repository does not exist (any more): choose another."
        except DomainError as exc:  # a cursor that no longer fits this sort: the first page instead
            error = None if after else exc.message
            if after:
                return contributors(request, viewer, asked, sort, q, None)
    keep = filters.query(developer_id=None, granularity="week")
    return render(
        request,
        "dashboard_contributors.html",
        viewer,
        filters=filters,
        keep=keep,
        keep_fields=parse_qsl(keep),
        error=error,
        ranges=RANGES,
        shown_from=first,
        shown_to=last,
        rows=rows,
        total=total,
        sort=order,
        q=q or "",
        paged=after is not None,
        next_url=f"/dashboard/contributors?{_join(keep, sort=order.text, q=q, after=cursor)}" if cursor else None,
        first_url=f"/dashboard/contributors?{_join(keep, sort=order.text, q=q)}" if after else None,
        sort_url=lambda key: f"/dashboard/contributors?{_join(keep, sort=key, q=q)}",
    )


def _join(query: str, **more: str | None) -> str:
    extra = urlencode({k: v for k, v in more.items() if v})
    return "&".join(part for part in (query, extra) if part)
