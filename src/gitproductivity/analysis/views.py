"""The repository page's ownership view: who owns the lines of a directory at the analysed head, its bus factor,
and its subdirectories as bars (largest first, paged), each a link one level down (`?path=`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from gitproductivity.analysis import ownership_page
from gitproductivity.core.http import unit_of_work
from gitproductivity.web.helpers import CurrentViewer, page_allows, render
from gitproductivity.web.security import guard

router = APIRouter(
    prefix="/repositories", include_in_schema=False, dependencies=[Depends(guard), page_allows("repositories")]
)


@router.get("/{repository_id}/ownership")
def ownership(
    request: Request,
    repository_id: str,
    viewer: CurrentViewer,
    path: Annotated[str, Query(max_length=4096)] = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    with unit_of_work(read_only=True) as session:
        found = ownership_page.view(
            session, organization_id=viewer.organization_id, repository_id=repository_id, path=path, page=page
        )
    return render(request, "repository_ownership.html", viewer, own=found)
