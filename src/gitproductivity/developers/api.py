from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from gitproductivity.core.errors import ValidationFailed
from gitproductivity.core.http import ERROR_RESPONSES, PathId, json_response, unit_of_work
from gitproductivity.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, parse_sort
from gitproductivity.developers import flows, service
from gitproductivity.developers.schemas import (
    AliasCreate,
    DeveloperCreate,
    DeveloperMerge,
    DeveloperPage,
    DeveloperRead,
)
from gitproductivity.orgs.auth import CurrentPrincipal, allow
from gitproductivity.orgs.roles import Role

router = APIRouter(
    prefix="/v1/developers",
    tags=["developers"],
    responses=ERROR_RESPONSES,
    dependencies=[allow("developers", write=Role.ADMIN)],
)


# The two busiest routes are async and do their database work in one worker-thread call, answering with
# `json_response` (serialized once): docs/benchmarks.md, "The API's own cost".


@router.post("", status_code=201, response_model=DeveloperRead)
async def create_developer(body: DeveloperCreate, principal: CurrentPrincipal) -> Response:
    return json_response(await run_in_threadpool(_create, principal.organization_id, body), status_code=201)


def _create(organization_id: str, body: DeveloperCreate) -> DeveloperRead:
    with unit_of_work() as session:
        added = service.add(
            session, organization_id=organization_id, name=body.name, email=body.email, aliases=body.aliases
        )
        return DeveloperRead.model_validate(added)


#: `sort=` for lists of developers, described once (the teams' list of developers takes it too).
SortQuery = Annotated[
    str | None,
    Query(
        max_length=40,
        description=f"Sort by one of {', '.join(service.SORTS)}; a leading `-` is descending (`-created_at`). "
        "Ties are ordered by id. Default: id (the order they were added).",
    ),
]
SearchQuery = Annotated[
    str | None, Query(max_length=200, description="Only developers whose name or e-mail contains this, any case")
]
AfterQuery = Annotated[str | None, Query(max_length=4096, description="Cursor: the `next_cursor` of the previous page")]
BeforeQuery = Annotated[
    str | None,
    Query(
        max_length=4096,
        description="Cursor: the `previous_cursor` of the page after, for the page before it (paging backwards); "
        "not with `after`",
    ),
]


@router.get("", response_model=DeveloperPage)
async def list_developers(
    principal: CurrentPrincipal,
    after: AfterQuery = None,
    before: BeforeQuery = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    include_removed: bool = False,
    sort: SortQuery = None,
    q: SearchQuery = None,
) -> Response:
    """Developers, a page at a time, with the number matching (`total`); `before` pages backwards."""
    page = await run_in_threadpool(_list, principal.organization_id, (after, before), limit, include_removed, sort, q)
    return json_response(page)


def _list(
    organization_id: str,
    cursors: tuple[str | None, str | None],
    limit: int,
    include_removed: bool,
    sort: str | None,
    q: str | None,
) -> DeveloperPage:
    after, before = cursors
    if after is not None and before is not None:
        raise ValidationFailed(
            "pass either after or before, not both",
            details=[{"field": "before", "message": "not together with after"}],
        )
    order = parse_sort(sort, allowed=service.SORTS, default="id")
    with unit_of_work(read_only=True) as session:
        rows, total, cursor, previous = service.list_window(
            session,
            organization_id=organization_id,
            sort=order,
            q=q,
            after=after,
            before=before,
            limit=limit,
            include_removed=include_removed,
        )
    # One validation of the whole page (not one call per row).
    return DeveloperPage.model_validate(
        {
            "data": rows,
            "has_more": cursor is not None,
            "next_cursor": cursor,
            "previous_cursor": previous,
            "total": total,
        }
    )


@router.get("/{developer_id}", response_model=DeveloperRead)
def get_developer(developer_id: PathId, principal: CurrentPrincipal) -> DeveloperRead:
    with unit_of_work() as session:
        dev = service.get(session, organization_id=principal.organization_id, developer_id=developer_id)
        return DeveloperRead.model_validate(dev)


@router.delete("/{developer_id}", response_model=DeveloperRead)
def remove_developer(developer_id: PathId, principal: CurrentPrincipal) -> DeveloperRead:
    with unit_of_work() as session:
        dev = service.remove(session, organization_id=principal.organization_id, developer_id=developer_id)
        return DeveloperRead.model_validate(dev)


@router.post("/{developer_id}/aliases", status_code=201, response_model=DeveloperRead)
def add_alias(developer_id: PathId, body: AliasCreate, principal: CurrentPrincipal) -> DeveloperRead:
    """Add an email; commits under it count for this developer from the next analysis on."""
    with unit_of_work() as session:
        dev = service.add_alias(
            session, organization_id=principal.organization_id, developer_id=developer_id, email=body.email
        )
        return DeveloperRead.model_validate(dev)


@router.delete("/{developer_id}/aliases/{email}", response_model=DeveloperRead)
def remove_alias(developer_id: PathId, email: str, principal: CurrentPrincipal) -> DeveloperRead:
    with unit_of_work() as session:
        dev = service.remove_alias(
            session, organization_id=principal.organization_id, developer_id=developer_id, email=email
        )
        return DeveloperRead.model_validate(dev)


@router.post("/{developer_id}/merge", response_model=DeveloperRead)
def merge_developers(developer_id: PathId, body: DeveloperMerge, principal: CurrentPrincipal) -> DeveloperRead:
    """Fold another developer into this one: emails become aliases, metrics are added, the other is removed."""
    with unit_of_work() as session:
        dev = flows.merge(
            session, organization_id=principal.organization_id, developer_id=developer_id, other_id=body.developer_id
        )
        return DeveloperRead.model_validate(dev)
