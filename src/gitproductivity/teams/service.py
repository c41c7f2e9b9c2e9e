"""Teams: named groups of developers, and who is in them. CRUD only; what needs the developers themselves (is
this one of ours? how many are current?) is in `teams.flows`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import get_owned
from gitproductivity.core.errors import Conflict, NotFound, ValidationFailed
from gitproductivity.core.ids import new_id, require_id
from gitproductivity.core.pagination import Sort, keyset_after, keyset_order, sort_cursor, sort_cursor_values
from gitproductivity.teams.models import Team, TeamMember

_BY_NAME = Sort(field="name", descending=False)


def get(session: Session, *, organization_id: str, team_id: str) -> Team:
    require_id(team_id, "team", "team")
    return get_owned(session, Team, organization_id=organization_id, id=team_id, what="team")


def find(session: Session, *, organization_id: str, ref: str) -> Team:
    """A team by id or by name (any case): what people type at the command line."""
    if ref.startswith("team_"):
        return get(session, organization_id=organization_id, team_id=ref)
    team = session.scalar(select(Team).where(Team.organization_id == organization_id, Team.name_key == _name(ref)[1]))
    if team is None:
        raise NotFound(f"there is no team called {ref!r}")
    return team


def list_(
    session: Session, *, organization_id: str, after: str | None = None, limit: int = 50
) -> tuple[list[Team], int, str | None]:
    """A page of teams by name (any case), the number of teams, and the cursor of the next page (None at the end)."""
    keys: list[tuple[Any, bool]] = [(Team.name_key, False), (Team.id, False)]
    stmt = select(Team).where(Team.organization_id == organization_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    if after is not None:
        stmt = stmt.where(keyset_after(keys, sort_cursor_values(after, _BY_NAME, (str, str))))
    rows = list(session.scalars(stmt.order_by(*keyset_order(keys)).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, total, sort_cursor(_BY_NAME, (rows[-1].name_key, rows[-1].id)) if more else None


def _name(name: str) -> tuple[str, str]:
    clean = " ".join(name.split())
    if not clean:
        raise ValidationFailed("a team needs a name", details=[{"field": "name", "message": "give the team a name"}])
    return clean, clean.casefold()


def _taken(session: Session, *, organization_id: str, key: str, but: str | None = None) -> None:
    stmt = select(Team.name).where(Team.organization_id == organization_id, Team.name_key == key)
    if but is not None:
        stmt = stmt.where(Team.id != but)
    existing = session.scalar(stmt)
    if existing is not None:
        raise Conflict(
            f"there is already a team called {existing!r}; choose another name",
            details=[{"field": "name", "message": "another team has this name"}],
        )


def _flush_name(session: Session, *, organization_id: str, key: str) -> None:
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # the same name, added by another request at the same moment
        _taken(session, organization_id=organization_id, key=key)
        raise


def create(session: Session, *, organization_id: str, name: str) -> Team:
    name, key = _name(name)
    _taken(session, organization_id=organization_id, key=key)
    team = Team(id=new_id("team"), organization_id=organization_id, name=name, name_key=key, created_at=utcnow())
    session.add(team)
    _flush_name(session, organization_id=organization_id, key=key)
    return team


def update(session: Session, *, organization_id: str, team_id: str, name: str) -> Team:
    team = get(session, organization_id=organization_id, team_id=team_id)
    name, key = _name(name)
    _taken(session, organization_id=organization_id, key=key, but=team.id)
    team.name, team.name_key = name, key
    _flush_name(session, organization_id=organization_id, key=key)
    return team


def delete_(session: Session, *, organization_id: str, team_id: str) -> Team:
    """Delete a team (its developers and their history stay)."""
    team = get(session, organization_id=organization_id, team_id=team_id)
    session.execute(delete(TeamMember).where(TeamMember.team_id == team.id))
    session.delete(team)
    session.flush()
    return team


def add_member(session: Session, *, organization_id: str, team_id: str, developer_id: str) -> bool:
    """Put a developer (checked by the caller to be the organisation's) in a team; False if already there."""
    team = get(session, organization_id=organization_id, team_id=team_id)
    if session.get(TeamMember, (team.id, developer_id)) is not None:
        return False
    session.add(
        TeamMember(team_id=team.id, developer_id=developer_id, organization_id=organization_id, added_at=utcnow())
    )
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # added by another request at the same moment: the outcome asked for
        return False
    return True


def remove_member(session: Session, *, organization_id: str, team_id: str, developer_id: str) -> bool:
    """Take a developer out of a team; False if they were not in it."""
    team = get(session, organization_id=organization_id, team_id=team_id)
    gone = session.execute(
        delete(TeamMember).where(TeamMember.team_id == team.id, TeamMember.developer_id == developer_id)
    )
    return bool(getattr(gone, "rowcount", 0))


def move_members(session: Session, *, source_id: str, target_id: str) -> None:
    """Put `target_id` in every team of `source_id` (merging two developers), and take `source_id` out."""
    mine = set(session.scalars(select(TeamMember.team_id).where(TeamMember.developer_id == target_id)))
    for member in session.scalars(select(TeamMember).where(TeamMember.developer_id == source_id)).all():
        if member.team_id not in mine:
            session.add(
                TeamMember(
                    team_id=member.team_id,
                    developer_id=target_id,
                    organization_id=member.organization_id,
                    added_at=member.added_at,
                )
            )
        session.delete(member)
    session.flush()


def member_ids(*, team_id: str) -> Select[Any]:
    """The ids of a team's developers, as a subquery for `IN (...)` (the team is checked by the caller)."""
    return select(TeamMember.developer_id).where(TeamMember.team_id == team_id)


def teams_of(session: Session, *, organization_id: str, developer_id: str) -> list[Team]:
    """The teams a developer is in, by name."""
    stmt = (
        select(Team)
        .join(TeamMember, TeamMember.team_id == Team.id)
        .where(Team.organization_id == organization_id, TeamMember.developer_id == developer_id)
    )
    return list(session.scalars(stmt.order_by(Team.name_key, Team.id)))
