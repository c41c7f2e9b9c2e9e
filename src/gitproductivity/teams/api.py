"""`/v1/teams`: named groups of developers. Thin routes over `teams.service` and `teams.flows`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from gitproductivity.core.http import ERROR_RESPONSES, PathId, unit_of_work
from gitproductivity.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, CountedPage, parse_sort
from gitproductivity.developers import service as developers
from gitproductivity.developers.api import AfterQuery, SearchQuery, SortQuery
from gitproductivity.developers.schemas import DeveloperRead
from gitproductivity.orgs.auth import CurrentPrincipal, allow
from gitproductivity.orgs.roles import Role
from gitproductivity.teams import flows, service
from gitproductivity.teams.schemas import TeamCreate, TeamPage, TeamRead, TeamUpdate

#: A team's developers: a page forwards (`after`), with the total.
TeamDevelopers = CountedPage[DeveloperRead]

router = APIRouter(
    prefix="/v1/teams", tags=["teams"], responses=ERROR_RESPONSES, dependencies=[allow("teams", write=Role.ADMIN)]
)


@router.post("", status_code=201, response_model=TeamRead)
def create_team(body: TeamCreate, principal: CurrentPrincipal) -> TeamRead:
    """Add a team; its name must be unique in the organisation (in any case), or the answer is 409."""
    with unit_of_work() as session:
        team = service.create(session, organization_id=principal.organization_id, name=body.name)
        return TeamRead.model_validate(flows.with_count(session, team))


@router.get("", response_model=TeamPage)
def list_teams(
    principal: CurrentPrincipal,
    after: AfterQuery = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> TeamPage:
    """The organisation's teams by name, each with its number of current developers."""
    with unit_of_work(read_only=True) as session:
        rows, total, cursor = flows.list_(session, organization_id=principal.organization_id, after=after, limit=limit)
    data = [TeamRead.model_validate(row) for row in rows]
    return TeamPage(data=data, has_more=cursor is not None, next_cursor=cursor, total=total)


@router.get("/{team_id}", response_model=TeamRead)
def get_team(team_id: PathId, principal: CurrentPrincipal) -> TeamRead:
    with unit_of_work(read_only=True) as session:
        team = service.get(session, organization_id=principal.organization_id, team_id=team_id)
        return TeamRead.model_validate(flows.with_count(session, team))


@router.patch("/{team_id}", response_model=TeamRead)
def rename_team(team_id: PathId, body: TeamUpdate, principal: CurrentPrincipal) -> TeamRead:
    with unit_of_work() as session:
        team = service.update(session, organization_id=principal.organization_id, team_id=team_id, name=body.name)
        return TeamRead.model_validate(flows.with_count(session, team))


@router.delete("/{team_id}", status_code=204)
def delete_team(team_id: PathId, principal: CurrentPrincipal) -> Response:
    """Delete a team. Its developers and their history stay."""
    with unit_of_work() as session:
        service.delete_(session, organization_id=principal.organization_id, team_id=team_id)
    return Response(status_code=204)


@router.get("/{team_id}/developers", response_model=TeamDevelopers)
def list_team_developers(
    team_id: PathId,
    principal: CurrentPrincipal,
    after: AfterQuery = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    include_removed: bool = False,
    sort: SortQuery = None,
    q: SearchQuery = None,
) -> TeamDevelopers:
    """The team's developers, sorted, searched and paged like `GET /v1/developers`."""
    order = parse_sort(sort, allowed=developers.SORTS, default="id")
    with unit_of_work(read_only=True) as session:
        rows, total, cursor = flows.developers_page(
            session,
            organization_id=principal.organization_id,
            team_id=team_id,
            sort=order,
            q=q,
            after=after,
            limit=limit,
            include_removed=include_removed,
        )
    data = [DeveloperRead.model_validate(row) for row in rows]
    return TeamDevelopers(data=data, has_more=cursor is not None, next_cursor=cursor, total=total)


@router.put("/{team_id}/developers/{developer_id}", status_code=204)
def add_team_developer(team_id: PathId, developer_id: PathId, principal: CurrentPrincipal) -> Response:
    """Put a developer in the team. Idempotent: a developer already in it stays, and the answer is the same."""
    with unit_of_work() as session:
        flows.add_developer(
            session, organization_id=principal.organization_id, team_id=team_id, developer_id=developer_id
        )
    return Response(status_code=204)


@router.delete("/{team_id}/developers/{developer_id}", status_code=204)
def remove_team_developer(team_id: PathId, developer_id: PathId, principal: CurrentPrincipal) -> Response:
    """Take a developer out of the team. Idempotent: 204 also when they were not in it."""
    with unit_of_work() as session:
        flows.remove_developer(
            session, organization_id=principal.organization_id, team_id=team_id, developer_id=developer_id
        )
    return Response(status_code=204)
