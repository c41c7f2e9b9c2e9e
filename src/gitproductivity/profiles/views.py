"""A developer's page: who they are (emails, aliases, merge) with what other domains know of them (their teams).

It composes several domains, so it lives above them all: the developers package never imports teams or metrics
for it, and nothing imports this module but the app.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from gitproductivity.core.errors import Conflict, DomainError, ValidationFailed
from gitproductivity.core.http import unit_of_work
from gitproductivity.developers import flows, service
from gitproductivity.developers.schemas import AliasCreate, DeveloperRead
from gitproductivity.teams import service as teams
from gitproductivity.web.helpers import CurrentViewer, Viewer, field_errors, flash, page_allows, redirect, render
from gitproductivity.web.security import guard

router = APIRouter(
    prefix="/developers", include_in_schema=False, dependencies=[Depends(guard), page_allows("developers")]
)


def _detail(
    request: Request,
    viewer: Viewer,
    developer_id: str,
    *,
    alias_form: dict[str, str] | None = None,
    alias_errors: dict[str, str] | None = None,
    merge_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    with unit_of_work() as session:
        dev = DeveloperRead.model_validate(
            service.get(session, organization_id=viewer.organization_id, developer_id=developer_id)
        )
        others = [
            DeveloperRead.model_validate(d)
            for d in service.list_(session, organization_id=viewer.organization_id, limit=5000)[:5000]
            if d.id != developer_id
        ]
        groups = [
            {"id": t.id, "name": t.name}
            for t in teams.teams_of(session, organization_id=viewer.organization_id, developer_id=developer_id)
        ]
    return render(
        request,
        "developer.html",
        viewer,
        status_code=status_code,
        dev=dev,
        others=others,
        teams=groups,
        alias_form=alias_form or {"email": ""},
        alias_errors=alias_errors or {},
        merge_errors=merge_errors or {},
    )


@router.get("/{developer_id}")
def show_developer(request: Request, developer_id: str, viewer: CurrentViewer) -> Response:
    return _detail(request, viewer, developer_id)


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
