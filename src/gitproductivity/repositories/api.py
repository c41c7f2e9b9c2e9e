from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from gitproductivity.core.http import ERROR_RESPONSES, PathId, unit_of_work
from gitproductivity.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, page_of
from gitproductivity.orgs.auth import CurrentPrincipal, allow
from gitproductivity.orgs.roles import Role
from gitproductivity.repositories import flows, service
from gitproductivity.repositories.schemas import RepositoryCreate, RepositoryPage, RepositoryRead

router = APIRouter(
    prefix="/v1/repositories",
    tags=["repositories"],
    responses=ERROR_RESPONSES,
    dependencies=[allow("repositories", write=Role.ADMIN)],
)


@router.post("", status_code=201, response_model=RepositoryRead)
def connect_repository(body: RepositoryCreate, principal: CurrentPrincipal) -> RepositoryRead:
    with unit_of_work() as session:
        repo = flows.connect(
            session, organization_id=principal.organization_id, url=body.url, name=body.name, branch=body.branch
        )
        return RepositoryRead.model_validate(repo)


@router.get("", response_model=RepositoryPage)
def list_repositories(
    principal: CurrentPrincipal,
    after: Annotated[str | None, Query(description="Cursor: the last id of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    status: Literal["connected", "disconnected"] | None = None,
) -> RepositoryPage:
    with unit_of_work() as session:
        rows = service.list_(
            session, organization_id=principal.organization_id, after=after, limit=limit, status=status
        )
        return page_of([RepositoryRead.model_validate(r) for r in rows], limit=limit)


@router.get("/{repository_id}", response_model=RepositoryRead)
def get_repository(repository_id: PathId, principal: CurrentPrincipal) -> RepositoryRead:
    with unit_of_work() as session:
        repo = service.get(session, organization_id=principal.organization_id, repository_id=repository_id)
        return RepositoryRead.model_validate(repo)


@router.delete("/{repository_id}", response_model=RepositoryRead)
def disconnect_repository(repository_id: PathId, principal: CurrentPrincipal) -> RepositoryRead:
    with unit_of_work() as session:
        repo = service.disconnect(session, organization_id=principal.organization_id, repository_id=repository_id)
        return RepositoryRead.model_validate(repo)
