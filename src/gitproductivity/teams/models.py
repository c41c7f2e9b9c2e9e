from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gitproductivity.core.db import Base
from gitproductivity.core.types import UTCDateTime


class Team(Base):
    """A named group of developers. Names are unique within an organisation, whatever their case."""

    __tablename__ = "teams"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(100))  # the name case-folded: what "unique" compares
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("organization_id", "name_key", name="uq_teams_org_name_key"),)


class TeamMember(Base):
    """One developer in one team; a developer may be in several teams."""

    __tablename__ = "team_members"

    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    developer_id: Mapped[str] = mapped_column(ForeignKey("developers.id", ondelete="CASCADE"), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_team_members_developer", "developer_id", "team_id"),)
