"""Work on teams that needs the developers: putting one in a team (is it ours, is it current?), counting a
team's current developers, and listing them with the developers' own sorting, search and paging."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gitproductivity.core.errors import Conflict
from gitproductivity.core.ids import require_id
from gitproductivity.core.pagination import Sort
from gitproductivity.developers import service as developers
from gitproductivity.developers.models import Developer
from gitproductivity.teams import service
from gitproductivity.teams.models import Team, TeamMember


def member_counts(session: Session, *, team_ids: Sequence[str]) -> dict[str, int]:
    """Current (not removed) developers per team."""
    if not team_ids:
        return {}
    stmt = (
        select(TeamMember.team_id, func.count())
        .join(Developer, Developer.id == TeamMember.developer_id)
        .where(TeamMember.team_id.in_(list(team_ids)), Developer.removed_at.is_(None))
        .group_by(TeamMember.team_id)
    )
    found: dict[str, int] = {team_id: int(n) for team_id, n in session.execute(stmt)}
    return {team_id: found.get(team_id, 0) for team_id in team_ids}


def with_count(session: Session, team: Team) -> dict[str, Any]:
    """A team as the API shows it: with its number of current developers."""
    count = member_counts(session, team_ids=[team.id])[team.id]
    return {"id": team.id, "name": team.name, "created_at": team.created_at, "member_count": count}


def list_(
    session: Session, *, organization_id: str, after: str | None = None, limit: int = 50
) -> tuple[list[dict[str, Any]], int, str | None]:
    teams, total, cursor = service.list_(session, organization_id=organization_id, after=after, limit=limit)
    counts = member_counts(session, team_ids=[t.id for t in teams])
    rows = [{"id": t.id, "name": t.name, "created_at": t.created_at, "member_count": counts[t.id]} for t in teams]
    return rows, total, cursor


def add_developer(session: Session, *, organization_id: str, team_id: str, developer_id: str) -> bool:
    """Put one of the organisation's current developers in a team; False when they were already in it."""
    service.get(session, organization_id=organization_id, team_id=team_id)
    require_id(developer_id, "dev", "developer")
    dev = developers.get(session, organization_id=organization_id, developer_id=developer_id)
    if dev.removed_at is not None:
        raise Conflict(
            f"{dev.name} <{dev.email}> was removed; add them back before putting them in a team",
            details=[{"field": "developer_id", "message": "a removed developer"}],
        )
    return service.add_member(session, organization_id=organization_id, team_id=team_id, developer_id=dev.id)


def remove_developer(session: Session, *, organization_id: str, team_id: str, developer_id: str) -> bool:
    """Take a developer out of a team; False when they were not in it (the team must be ours either way)."""
    service.get(session, organization_id=organization_id, team_id=team_id)
    require_id(developer_id, "dev", "developer")
    developers.get(session, organization_id=organization_id, developer_id=developer_id)
    return service.remove_member(session, organization_id=organization_id, team_id=team_id, developer_id=developer_id)


def developers_page(
    session: Session,
    *,
    organization_id: str,
    team_id: str,
    sort: Sort | None = None,
    q: str | None = None,
    after: str | None = None,
    limit: int = 50,
    include_removed: bool = False,
) -> tuple[list[dict[str, Any]], int, str | None]:
    """A team's developers, sorted, searched and paged exactly like `GET /v1/developers`."""
    service.get(session, organization_id=organization_id, team_id=team_id)
    return developers.list_fields(
        session,
        organization_id=organization_id,
        sort=sort,
        q=q,
        after=after,
        limit=limit,
        include_removed=include_removed,
        within=service.member_ids(team_id=team_id),
    )
