"""Teams pages: the list with a form to add one, and each team with its developers. Thin handlers over
`teams.service` and `teams.flows`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from gitproductivity.core.errors import DomainError, ValidationFailed
from gitproductivity.core.http import unit_of_work
from gitproductivity.core.pagination import Sort
from gitproductivity.developers import service as developers
from gitproductivity.teams import flows, service
from gitproductivity.teams.schemas import TeamCreate, TeamUpdate
from gitproductivity.web.helpers import CurrentViewer, Viewer, field_errors, flash, page_allows, redirect, render
from gitproductivity.web.security import guard

router = APIRouter(prefix="/teams", include_in_schema=False, dependencies=[Depends(guard), page_allows("teams")])

PAGE_SIZE = 50
_BY_NAME = Sort(field="name", descending=False)


def _list(
    request: Request,
    viewer: Viewer,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    with unit_of_work(read_only=True) as session:
        rows, total, _cursor = flows.list_(session, organization_id=viewer.organization_id, limit=500)
    return render(
        request,
        "teams.html",
        viewer,
        status_code=status_code,
        teams=rows,
        total=total,
        form=form or {"name": ""},
        errors=errors or {},
    )


@router.get("")
def list_teams(request: Request, viewer: CurrentViewer) -> Response:
    return _list(request, viewer)


@router.post("")
def add_team(request: Request, viewer: CurrentViewer, name: Annotated[str, Form()] = "") -> Response:
    try:
        body = TeamCreate(name=name)
        with unit_of_work() as session:
            team = service.create(session, organization_id=viewer.organization_id, name=body.name)
            team_id, added = team.id, f"Added team {team.name}."
    except (DomainError, ValidationError) as exc:
        status = exc.status_code if isinstance(exc, DomainError) else 422
        return _list(request, viewer, form={"name": name}, errors=field_errors(exc), status_code=status)
    flash(request, added)
    return redirect(f"/teams/{team_id}")


def _detail(
    request: Request,
    viewer: Viewer,
    team_id: str,
    *,
    after: str | None = None,
    add_form: dict[str, str] | None = None,
    add_errors: dict[str, str] | None = None,
    name_form: dict[str, str] | None = None,
    name_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    org = viewer.organization_id
    with unit_of_work(read_only=True) as session:
        team = flows.with_count(session, service.get(session, organization_id=org, team_id=team_id))
        try:
            rows, total, cursor = flows.developers_page(
                session, organization_id=org, team_id=team_id, sort=_BY_NAME, after=after, limit=PAGE_SIZE
            )
        except DomainError:  # an edited or stale page link: the first page
            rows, total, cursor = flows.developers_page(
                session, organization_id=org, team_id=team_id, sort=_BY_NAME, limit=PAGE_SIZE
            )
    return render(
        request,
        "team.html",
        viewer,
        status_code=status_code,
        team=team,
        members=rows,
        total=total,
        next_cursor=cursor,
        add_form=add_form or {"email": ""},
        add_errors=add_errors or {},
        name_form=name_form or {"name": team["name"]},
        name_errors=name_errors or {},
    )


@router.get("/{team_id}")
def show_team(
    request: Request, team_id: str, viewer: CurrentViewer, after: Annotated[str | None, Query(max_length=4096)] = None
) -> Response:
    return _detail(request, viewer, team_id, after=after)


@router.post("/{team_id}/developers")
def add_developer(
    request: Request, team_id: str, viewer: CurrentViewer, email: Annotated[str, Form()] = ""
) -> Response:
    org = viewer.organization_id
    try:
        with unit_of_work() as session:
            dev = developers.find_by_email(session, organization_id=org, email=email.strip()) if email.strip() else None
            if dev is None:
                raise ValidationFailed(
                    "No developer has this e-mail address. Add them on the Developers page first.",
                    details=[{"field": "email", "message": "no developer has this e-mail address"}],
                )
            added = flows.add_developer(session, organization_id=org, team_id=team_id, developer_id=dev.id)
            message = f"Added {dev.name} to the team." if added else f"{dev.name} is already in the team."
    except DomainError as exc:
        status = exc.status_code
        return _detail(
            request, viewer, team_id, add_form={"email": email}, add_errors=field_errors(exc), status_code=status
        )
    flash(request, message)
    return redirect(f"/teams/{team_id}")


@router.post("/{team_id}/developers/{developer_id}/remove")
def remove_developer(request: Request, team_id: str, developer_id: str, viewer: CurrentViewer) -> Response:
    with unit_of_work() as session:
        dev = developers.get(session, organization_id=viewer.organization_id, developer_id=developer_id)
        flows.remove_developer(
            session, organization_id=viewer.organization_id, team_id=team_id, developer_id=developer_id
        )
        message = f"Took {dev.name} out of the team. Their history stays."
    flash(request, message)
    return redirect(f"/teams/{team_id}")


@router.post("/{team_id}/rename")
def rename_team(request: Request, team_id: str, viewer: CurrentViewer, name: Annotated[str, Form()] = "") -> Response:
    try:
        body = TeamUpdate(name=name)
        with unit_of_work() as session:
            team = service.update(session, organization_id=viewer.organization_id, team_id=team_id, name=body.name)
            message = f"Renamed the team to {team.name}."
    except (DomainError, ValidationError) as exc:
        status = exc.status_code if isinstance(exc, DomainError) else 422
        return _detail(
            request, viewer, team_id, name_form={"name": name}, name_errors=field_errors(exc), status_code=status
        )
    flash(request, message)
    return redirect(f"/teams/{team_id}")


@router.post("/{team_id}/delete")
def delete_team(request: Request, team_id: str, viewer: CurrentViewer) -> Response:
    with unit_of_work() as session:
        team = service.delete_(session, organization_id=viewer.organization_id, team_id=team_id)
        message = f"Deleted team {team.name}. Its developers and their history stay."
    flash(request, message)
    return redirect("/teams")
