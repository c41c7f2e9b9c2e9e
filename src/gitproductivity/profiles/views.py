"""A developer's page: who they are (emails, aliases, merge) with what other domains know of them: their figures
over a range, drawn on a time axis, the repositories they work in, their teams.

It composes several domains, so it lives above them all: the developers package never imports teams or metrics
for it, and nothing imports this module but the app.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from gitproductivity.core.clock import utcnow
from gitproductivity.core.errors import Conflict, DomainError, ValidationFailed
from gitproductivity.core.http import unit_of_work
from gitproductivity.developers import flows, service
from gitproductivity.developers.schemas import AliasCreate, DeveloperRead
from gitproductivity.metrics import history
from gitproductivity.metrics.service import Totals
from gitproductivity.teams import service as teams
from gitproductivity.web.helpers import CurrentViewer, Viewer, field_errors, flash, page_allows, redirect, render
from gitproductivity.web.security import guard

router = APIRouter(
    prefix="/developers", include_in_schema=False, dependencies=[Depends(guard), page_allows("developers")]
)


#: The ranges a developer's figures are shown for: (label, days back from today; None: all time).
RANGES = {
    "3m": ("Last 3 months", 91),
    "12m": ("Last 12 months", 365),
    "5y": ("Last 5 years", 1826),
    "all": ("All time", None),
}
DEFAULT_RANGE = "12m"
#: How many matches the merge search lists (the list says when there are more: search for more of the name).
MERGE_MATCHES = 20
#: The charts: x in percent of the card's width (so nothing is stretched on a phone), y in pixels.
_W, _H = 100, 120


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    height: float
    label: str


def _axis(start: date, end: date) -> list[dict[str, Any]]:
    """Ticks for a time axis from `start` to `end`: each January 1st (every few years on a long axis), or the first
    of each month on an axis of two years at most."""
    span = max(1, (end - start).days)
    ticks: list[date] = []
    if span <= 731:
        day = date(start.year, start.month, 1)
        while day <= end:
            if day >= start:
                ticks.append(day)
            day = history.period_end(day, "month")
        step = 1 if span <= 200 else 3
        ticks = [t for t in ticks if (t.month - 1) % step == 0]
        fmt = "%b %Y"
    else:
        step = max(1, (span // 365 + 9) // 10)
        ticks = [date(y, 1, 1) for y in range(start.year + 1, end.year + 1) if y % step == 0]
        fmt = "%Y"
    places = [(round((t - start).days / span * _W, 2), t.strftime(fmt)) for t in ticks]
    return [{"x": x, "label": label} for x, label in places if x <= 92]  # a label at the right edge would be cut


def _bars(periods: list[tuple[date, Totals]], period: str, start: date, end: date, figure: str) -> list[Bar]:
    """Each period with activity as a bar at its place in time (a period without any is a gap where it falls)."""
    span = max(1, (end - start).days)
    top = max((getattr(t, figure) for _, t in periods), default=0) or 1
    bars = []
    for first, totals in periods:
        left, right = max(first, start), min(history.period_end(first, period), end + timedelta(days=1))
        x = (left - start).days / span * _W
        width = max(0.15, (right - left).days / span * _W - 0.1)
        value = getattr(totals, figure)
        word = {"week": "Week of ", "month": "", "year": ""}[period]
        when = first.strftime({"week": "%-d %b %Y", "month": "%b %Y", "year": "%Y"}[period])
        label = f"{word}{when}: {value:,} {figure.replace('_', ' ')}"
        bars.append(Bar(x=round(x, 3), width=round(width, 3), height=round(value / top * (_H - 4), 1), label=label))
    return bars


def _figures(session: Any, organization_id: str, developer_id: str, range_key: str) -> dict[str, Any]:
    """The developer's totals over the range, their periods drawn as bars, and their repositories."""
    today = utcnow().date()
    days = RANGES[range_key][1]
    start = today - timedelta(days=days - 1) if days else None
    mine: dict[str, Any] = {"organization_id": organization_id, "developer_id": developer_id, "start": start}
    totals = history.developer_totals(session, **mine)
    first_day = start or (totals.first_commit_at.date() if totals.first_commit_at else today)
    last_day = max(today, totals.last_commit_at.date() if totals.last_commit_at else today)
    period = history.period_for(first_day, last_day)
    periods = history.developer_periods(session, period=period, **mine) if totals.commits or totals.merges else []
    return {
        "totals": totals,
        "range_key": range_key,
        "ranges": RANGES,
        "start": first_day,
        "end": last_day,
        "period": period,
        "periods": periods,
        "chart": {
            "width": _W,
            "height": _H,
            "ticks": _axis(first_day, last_day),
            "commits": _bars(periods, period, first_day, last_day, "commits"),
            "added": _bars(periods, period, first_day, last_day, "lines_added"),
        },
        "repositories": history.developer_repositories(session, **mine),
    }


def _detail(
    request: Request,
    viewer: Viewer,
    developer_id: str,
    *,
    range_key: str = DEFAULT_RANGE,
    find: str = "",
    alias_form: dict[str, str] | None = None,
    alias_errors: dict[str, str] | None = None,
    merge_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    org = viewer.organization_id
    with unit_of_work(read_only=True) as session:
        dev = DeveloperRead.model_validate(service.get(session, organization_id=org, developer_id=developer_id))
        matches: list[dict[str, Any]] = []
        more = False
        if find:  # a bounded search: the first matches by name, never the whole organisation
            found, total, _ = service.list_fields(session, organization_id=org, q=find, limit=MERGE_MATCHES + 1)
            matches = [row for row in found if row["id"] != developer_id][:MERGE_MATCHES]
            more = total - any(row["id"] == developer_id for row in found) > len(matches)
        groups = [
            {"id": t.id, "name": t.name}
            for t in teams.teams_of(session, organization_id=org, developer_id=developer_id)
        ]
        figures = _figures(session, org, developer_id, range_key)
    return render(
        request,
        "developer.html",
        viewer,
        status_code=status_code,
        dev=dev,
        find=find,
        matches=matches,
        more_matches=more,
        teams=groups,
        alias_form=alias_form or {"email": ""},
        alias_errors=alias_errors or {},
        merge_errors=merge_errors or {},
        **figures,
    )


@router.get("/{developer_id}")
def show_developer(
    request: Request,
    developer_id: str,
    viewer: CurrentViewer,
    range_key: Annotated[str, Query(alias="range", max_length=10)] = DEFAULT_RANGE,
    find: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """The developer's page; `range` picks the figures' range (`3m`, `12m`, `5y`, `all`), `find` searches the
    developers that could be merged into this one (by name or e-mail)."""
    key = range_key if range_key in RANGES else DEFAULT_RANGE
    return _detail(request, viewer, developer_id, range_key=key, find=find.strip())


@router.post("/{developer_id}/aliases")
def add_alias(
    request: Request, developer_id: str, viewer: CurrentViewer, email: Annotated[str, Form()] = ""
) -> Response:
    try:
        body = AliasCreate(email=email.strip())
        with unit_of_work() as session:
            service.add_alias(
                session, organization_id=viewer.organization_id, developer_id=developer_id, email=body.email
            )
    except (ValidationFailed, Conflict, ValidationError) as exc:
        status = exc.status_code if isinstance(exc, DomainError) else 422
        return _detail(
            request,
            viewer,
            developer_id,
            alias_form={"email": email},
            alias_errors=field_errors(exc),
            status_code=status,
        )
    flash(request, f"Added {email.strip()}.")
    return redirect(f"/developers/{developer_id}")


@router.post("/{developer_id}/aliases/remove")
def remove_alias(
    request: Request, developer_id: str, viewer: CurrentViewer, email: Annotated[str, Form()] = ""
) -> Response:
    with unit_of_work() as session:
        service.remove_alias(session, organization_id=viewer.organization_id, developer_id=developer_id, email=email)
    flash(request, f"Removed {email}.")
    return redirect(f"/developers/{developer_id}")


@router.post("/{developer_id}/merge")
def merge(
    request: Request, developer_id: str, viewer: CurrentViewer, other_id: Annotated[str, Form()] = ""
) -> Response:
    if not other_id:
        return _detail(
            request, viewer, developer_id, merge_errors={"": "Choose the duplicate to merge."}, status_code=422
        )
    try:
        with unit_of_work() as session:
            dev = flows.merge(
                session, organization_id=viewer.organization_id, developer_id=developer_id, other_id=other_id
            )
            message = f"Merged into {dev.name}: their emails and metrics are now one developer's."
    except Conflict as exc:
        return _detail(request, viewer, developer_id, merge_errors={"": exc.message}, status_code=exc.status_code)
    flash(request, message)
    return redirect(f"/developers/{developer_id}")
