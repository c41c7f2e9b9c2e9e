"""Developers pages: thin handlers over `developers.service`."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from gitproductivity.core.errors import DomainError, ValidationFailed
from gitproductivity.core.http import unit_of_work
from gitproductivity.core.pagination import parse_sort
from gitproductivity.developers import service
from gitproductivity.developers.schemas import DeveloperCreate
from gitproductivity.metrics import table
from gitproductivity.web.helpers import CurrentViewer, Viewer, field_errors, flash, page_allows, redirect, render
from gitproductivity.web.security import guard

_ALIAS_SEPARATORS = re.compile(r"[\s,;]+")

router = APIRouter(
    prefix="/developers", include_in_schema=False, dependencies=[Depends(guard), page_allows("developers")]
)

PAGE_SIZE = 50
#: The columns of the list and the direction of their first click: names A to Z, figures largest first.
COLUMNS = {
    "name": "name",
    "email": "email",
    "commits": "-commits",
    "lines_added": "-lines_added",
    "active_days": "-active_days",
    "created_at": "-created_at",
}


def _page(
    request: Request,
    viewer: Viewer,
    *,
    q: str = "",
    sort: str = "name",
    after: str | None = None,
    before: str | None = None,
    last: bool = False,
    start: int = 0,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    org = viewer.organization_id
    problem = None
    with unit_of_work(read_only=True) as session:
        try:
            order = parse_sort(sort, allowed=table.EVERYONE_SORTS, default="name")
        except ValidationFailed:
            order, problem = parse_sort("name", allowed=table.EVERYONE_SORTS, default="name"), "sort"
        where: dict[str, Any] = {"organization_id": org, "sort": order, "q": q, "limit": PAGE_SIZE, "everyone": True}
        try:
            if last or before:  # one direction at a time: an edited link with both reads backwards
                after = None
            window = table.developers_window(session, after=after, before=before, last=last and not before, **where)
        except ValidationFailed:  # a cursor from another sort or an edited link: start again at the first page
            problem, start = "page", 0
            window = table.developers_window(session, **where)
        rows, total = window.rows, window.total
        if window.start is not None:  # the last page says where it starts
            start = window.start
        elif window.previous_cursor is None:  # nothing before this page: it is the first, whatever the link said
            start = 0
        aliases = service.aliases_of(session, developer_ids=[row["developer_id"] for row in rows])
        bots = service.bots(session, organization_id=org)
        anyone = bool(total) or bool(q) or service.any_current(session, organization_id=org)
    keep: dict[str, Any] = {"q": q, "sort": order.text}
    later = total > start + len(rows)
    return render(
        request,
        "developers.html",
        viewer,
        status_code=status_code,
        people=rows,
        aliases=aliases,
        bots=bots,
        total=total,
        anyone=anyone,
        q=q,
        sort=order,
        columns=COLUMNS,
        start=start,
        page_size=PAGE_SIZE,
        first_url=_url(**keep) if start > 0 else None,
        previous_url=(
            _url(**keep, before=window.previous_cursor, start=max(0, start - PAGE_SIZE))
            if window.previous_cursor and start > 0
            else None
        ),
        next_url=_url(**keep, after=window.next_cursor, start=start + len(rows)) if window.next_cursor else None,
        last_url=_url(**keep, last=True) if later else None,
        problem=problem,
        form=form or {"name": "", "email": "", "aliases": ""},
        errors=errors or {},
    )


def _url(
    *,
    q: str = "",
    sort: str = "name",
    after: str | None = None,
    before: str | None = None,
    last: bool = False,
    start: int = 0,
) -> str:
    params = {
        "q": q,
        "sort": sort if sort != "name" else "",
        "after": after or "",
        "before": before or "",
        "last": "1" if last else "",
        "start": start or "",
    }
    query = urlencode({k: v for k, v in params.items() if v})
    return f"/developers?{query}" if query else "/developers"


@router.get("")
def list_developers(
    request: Request,
    viewer: CurrentViewer,
    q: Annotated[str, Query(max_length=200)] = "",
    sort: Annotated[str, Query(max_length=40)] = "name",
    after: Annotated[str | None, Query(max_length=4096)] = None,
    before: Annotated[str | None, Query(max_length=4096)] = None,
    last: bool = False,
    start: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    """The list, 50 at a time: `after` the next page's cursor, `before` the previous one's, `last` the last page;
    `start` is the position of the page's first row (for "Showing 51 to 100 of N"), kept by the pager's links."""
    return _page(
        request, viewer, q=q.strip(), sort=sort, after=after or None, before=before or None, last=last, start=start
    )


@router.post("")
def add_developer(
    request: Request,
    viewer: CurrentViewer,
    name: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    aliases: Annotated[str, Form()] = "",
) -> Response:
    form = {"name": name, "email": email, "aliases": aliases}
    try:
        body = DeveloperCreate(
            name=name.strip(),
            email=email.strip(),
            aliases=_ALIAS_SEPARATORS.split(aliases.strip()) if aliases.strip() else [],
        )
        with unit_of_work() as session:
            dev = service.create(
                session,
                organization_id=viewer.organization_id,
                name=body.name,
                email=body.email,
                aliases=body.aliases,
            )
            added = f"Added {dev.name} <{dev.email}>."
    except (DomainError, ValidationError) as exc:
        status = exc.status_code if isinstance(exc, DomainError) else 422
        return _page(request, viewer, form=form, errors=field_errors(exc), status_code=status)
    flash(request, added)
    return redirect("/developers")


@router.post("/{developer_id}/remove")
def remove_developer(request: Request, developer_id: str, viewer: CurrentViewer) -> Response:
    with unit_of_work() as session:
        dev = service.remove(session, organization_id=viewer.organization_id, developer_id=developer_id)
        flash(request, f"Removed {dev.name}. Their history is kept; adding {dev.email} again restores them.")
    return redirect("/developers")
