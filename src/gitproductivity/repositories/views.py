"""Repositories pages: thin handlers over `repositories.service`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from gitproductivity.analysis import jobs
from gitproductivity.analysis.schemas import AnalysisRead
from gitproductivity.core.errors import DomainError
from gitproductivity.core.http import unit_of_work
from gitproductivity.repositories import flows, service
from gitproductivity.repositories.schemas import RepositoryCreate, RepositoryRead
from gitproductivity.web.helpers import CurrentViewer, Viewer, field_errors, flash, page_allows, redirect, render
from gitproductivity.web.security import guard

router = APIRouter(
    prefix="/repositories", include_in_schema=False, dependencies=[Depends(guard), page_allows("repositories")]
)

PAGE_SIZE = 200


def _page(
    request: Request,
    viewer: Viewer,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    with unit_of_work() as session:
        rows = service.list_(session, organization_id=viewer.organization_id, limit=PAGE_SIZE)
        repositories = [RepositoryRead.model_validate(r) for r in rows[:PAGE_SIZE]]
        latest = {r.id: _latest(session, viewer, r.id) for r in repositories if r.status != "disconnected"}
    return render(
        request,
        "repositories.html",
        viewer,
        status_code=status_code,
        connected=[r for r in repositories if r.status != "disconnected"],
        disconnected=[r for r in repositories if r.status == "disconnected"],
        analysis=latest,
        form=form or {"url": "", "name": ""},
        errors=errors or {},
    )


def _latest(session: Session, viewer: Viewer, repository_id: str) -> AnalysisRead | None:
    rows = jobs.list_(session, organization_id=viewer.organization_id, repository_id=repository_id, limit=1)
    return AnalysisRead.model_validate(rows[0]) if rows else None


@router.get("")
def list_repositories(request: Request, viewer: CurrentViewer) -> Response:
    return _page(request, viewer)


@router.post("")
def connect_repository(
    request: Request,
    viewer: CurrentViewer,
    url: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
) -> Response:
    form = {"url": url, "name": name}
    try:
        body = RepositoryCreate(url=url.strip(), name=name.strip() or None)
        with unit_of_work() as session:
            repo = flows.connect(session, organization_id=viewer.organization_id, url=body.url, name=body.name)
            message = f"Connected {repo.name}."
    except (DomainError, ValidationError) as exc:
        status = exc.status_code if isinstance(exc, DomainError) else 422
        return _page(request, viewer, form=form, errors=field_errors(exc), status_code=status)
    flash(request, message)
    return redirect("/repositories")


@router.post("/{repository_id}/disconnect")
def disconnect_repository(request: Request, repository_id: str, viewer: CurrentViewer) -> Response:
    with unit_of_work() as session:
        repo = service.disconnect(session, organization_id=viewer.organization_id, repository_id=repository_id)
        flash(request, f"Disconnected {repo.name}. Its history and metrics are kept.")
    return redirect("/repositories")


@router.get("/{repository_id}/analysis")
def analysis_status(request: Request, repository_id: str, viewer: CurrentViewer) -> Response:
    """The status cell alone: htmx polls it while an analysis is queued or running."""
    with unit_of_work() as session:
        repo = RepositoryRead.model_validate(
            service.get(session, organization_id=viewer.organization_id, repository_id=repository_id)
        )
        latest = _latest(session, viewer, repository_id)
    return render(request, "partials/analysis_status.html", viewer, r=repo, analysis={repo.id: latest})


@router.post("/{repository_id}/analyse")
def analyse_now(request: Request, repository_id: str, viewer: CurrentViewer) -> Response:
    with unit_of_work() as session:
        jobs.enqueue(session, organization_id=viewer.organization_id, repository_id=repository_id, trigger="ui")
    flash(request, "Analysis queued. Progress shows in the list.")
    return redirect("/repositories")
