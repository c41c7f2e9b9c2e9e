from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gitproductivity.analysis import jobs, ownership_store
from gitproductivity.analysis.schemas import AnalysisCreate, AnalysisPage, AnalysisRead, OwnershipRead
from gitproductivity.core.http import ERROR_RESPONSES, PathId, unit_of_work
from gitproductivity.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, page_of
from gitproductivity.orgs.auth import CurrentPrincipal, allow
from gitproductivity.orgs.roles import Role

router = APIRouter(tags=["analyses"], responses=ERROR_RESPONSES, dependencies=[allow("analyses", write=Role.ADMIN)])


@router.post("/v1/repositories/{repository_id}/analyses", status_code=202, response_model=AnalysisRead)
def queue_analysis(
    repository_id: PathId, principal: CurrentPrincipal, body: AnalysisCreate | None = None
) -> AnalysisRead:
    """Queue an analysis (only new commits unless `full`); an already queued one is returned instead."""
    with unit_of_work() as session:
        analysis = jobs.enqueue(
            session,
            organization_id=principal.organization_id,
            repository_id=repository_id,
            trigger="api",
            full=body.full if body else False,
        )
        return AnalysisRead.model_validate(analysis)


@router.get("/v1/repositories/{repository_id}/analyses", response_model=AnalysisPage)
def list_analyses(
    repository_id: PathId,
    principal: CurrentPrincipal,
    after: Annotated[str | None, Query(description="Cursor: the last id of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> AnalysisPage:
    """A repository's analyses, newest first."""
    with unit_of_work() as session:
        rows = jobs.list_(
            session, organization_id=principal.organization_id, repository_id=repository_id, after=after, limit=limit
        )
        return page_of([AnalysisRead.model_validate(a) for a in rows], limit=limit)


@router.get("/v1/analyses/{analysis_id}", response_model=AnalysisRead)
def get_analysis(analysis_id: PathId, principal: CurrentPrincipal) -> AnalysisRead:
    with unit_of_work() as session:
        analysis = jobs.get(session, organization_id=principal.organization_id, analysis_id=analysis_id)
        return AnalysisRead.model_validate(analysis)


@router.get("/v1/repositories/{repository_id}/ownership", response_model=OwnershipRead, tags=["ownership"])
def get_ownership(
    repository_id: PathId,
    principal: CurrentPrincipal,
    path: Annotated[
        str, Query(max_length=4096, description='A directory of the repository ("" or omitted: the whole of it)')
    ] = "",
) -> OwnershipRead:
    """Who owns the lines of a directory at the analysed head (as `git blame` assigns them), its bus factor, and
    its immediate subdirectories with theirs (docs/metrics.md)."""
    with unit_of_work() as session:
        found = ownership_store.get(
            session, organization_id=principal.organization_id, repository_id=repository_id, path=path
        )
        return OwnershipRead.model_validate(found)
