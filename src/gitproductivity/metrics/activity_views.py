"""The dashboard's languages and hours-of-the-week cards: fragments that htmx loads into
`partials/languages.html` and `partials/hours.html`, with the dashboard's own filters (from, to, repository,
team, developer), so the dashboard page itself needs only the include line."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from gitproductivity.core.errors import DomainError, NotFound
from gitproductivity.core.http import unit_of_work
from gitproductivity.metrics import activity
from gitproductivity.metrics.service import Scope
from gitproductivity.web.helpers import CurrentViewer, page_allows, render
from gitproductivity.web.security import guard

router = APIRouter(
    prefix="/dashboard", include_in_schema=False, dependencies=[Depends(guard), page_allows("the dashboard")]
)

SHOWN = 8  # languages drawn in the card
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
SHADES = 5  # heat-map shades besides empty


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None  # the dashboard itself says so


def _scope(
    viewer: CurrentViewer,
    start: str | None,
    end: str | None,
    repository: str | None,
    developer: str | None,
    team_id: str | None,
) -> Scope:
    return Scope(viewer.organization_id, repository or None, team_id or None, developer or None, _day(start), _day(end))


Start = Annotated[str | None, Query(alias="from", max_length=40)]
End = Annotated[str | None, Query(alias="to", max_length=40)]
Id = Annotated[str | None, Query(max_length=40)]


@router.get("/languages")
def languages_card(
    request: Request,
    viewer: CurrentViewer,
    start: Start = None,
    end: End = None,
    repository: Id = None,
    developer: Id = None,
    team_id: Id = None,
    granularity: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    error, found = None, []
    try:
        with unit_of_work(read_only=True) as session:
            found = activity.languages(session, _scope(viewer, start, end, repository, developer, team_id))
    except NotFound:
        error = "That team, repository or developer does not exist (any more)."
    except DomainError as exc:
        error = exc.message
    total = sum(t.lines_changed for t in found) or 1
    rows = [{"t": t, "share": t.lines_changed / total} for t in found[:SHOWN]]
    rest = found[SHOWN:]
    return render(
        request,
        "partials/languages.html",
        viewer,
        loaded=True,
        error=error,
        rows=rows,
        rest=len(rest),
        rest_lines=sum(t.lines_changed for t in rest),
    )


@router.get("/hours")
def hours_card(
    request: Request,
    viewer: CurrentViewer,
    start: Start = None,
    end: End = None,
    repository: Id = None,
    developer: Id = None,
    team_id: Id = None,
    granularity: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    error, counts = None, [0] * activity.HOURS_PER_WEEK
    try:
        with unit_of_work(read_only=True) as session:
            counts = activity.hours(session, _scope(viewer, start, end, repository, developer, team_id))
    except NotFound:
        error = "That team, repository or developer does not exist (any more)."
    except DomainError as exc:
        error = exc.message
    top = max(counts) or 1
    grid = [
        {
            "day": day,
            "cells": [
                {"hour": h, "n": counts[d * 24 + h], "shade": -(-counts[d * 24 + h] * SHADES // top)} for h in range(24)
            ],
        }
        for d, day in enumerate(DAYS)
    ]
    return render(
        request, "partials/hours.html", viewer, loaded=True, error=error, grid=grid, commits=sum(counts), peak=top
    )
