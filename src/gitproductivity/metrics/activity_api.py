"""Languages and hours of the week over any scope (docs/metrics.md): `GET /v1/metrics/languages`, `.../hours`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gitproductivity.core.http import ERROR_RESPONSES, unit_of_work
from gitproductivity.metrics import activity
from gitproductivity.metrics.api import From, To
from gitproductivity.metrics.schemas import HoursRead, LanguageRead, LanguagesRead
from gitproductivity.metrics.service import Scope
from gitproductivity.orgs.auth import CurrentPrincipal, allow
from gitproductivity.orgs.roles import Role

router = APIRouter(tags=["metrics"], responses=ERROR_RESPONSES, dependencies=[allow("metrics", write=Role.ADMIN)])

RepositoryFilter = Annotated[str | None, Query(max_length=40, description="Only this repository")]
TeamFilter = Annotated[str | None, Query(max_length=40, description="Only the developers in this team")]
DeveloperFilter = Annotated[str | None, Query(max_length=40, description="Only this developer (bots too)")]
Bots = Annotated[bool, Query(description="Count bots in team and organisation sums")]


@router.get("/v1/metrics/languages", response_model=LanguagesRead)
def languages(
    principal: CurrentPrincipal,
    repository_id: RepositoryFilter = None,
    team_id: TeamFilter = None,
    developer_id: DeveloperFilter = None,
    start: From = None,
    end: To = None,
    include_bots: bool = False,
) -> LanguagesRead:
    """Lines added and deleted, and files changed, per language (by file name) in a scope: one developer, a team or
    everyone, one repository or all, a range of UTC days. Bots only when asked, or asked for by id."""
    with unit_of_work(read_only=True) as session:
        found = activity.languages(
            session,
            Scope(principal.organization_id, repository_id, team_id, developer_id, start, end, include_bots),
        )
    return LanguagesRead(
        repository_id=repository_id,
        team_id=team_id,
        developer_id=developer_id,
        start=start,
        end=end,
        data=[LanguageRead.model_validate(t, from_attributes=True) for t in found],
    )


@router.get("/v1/metrics/hours", response_model=HoursRead)
def hours(
    principal: CurrentPrincipal,
    repository_id: RepositoryFilter = None,
    team_id: TeamFilter = None,
    developer_id: DeveloperFilter = None,
    start: From = None,
    end: To = None,
    include_bots: bool = False,
) -> HoursRead:
    """When people work: non-merge commits per hour of the week (168 counts, Monday 00:00 first) in each author's
    own time zone, in the same scopes as the languages."""
    with unit_of_work(read_only=True) as session:
        counts = activity.hours(
            session,
            Scope(principal.organization_id, repository_id, team_id, developer_id, start, end, include_bots),
        )
    return HoursRead(
        repository_id=repository_id,
        team_id=team_id,
        developer_id=developer_id,
        start=start,
        end=end,
        commits=sum(counts),
        hours=counts,
    )
