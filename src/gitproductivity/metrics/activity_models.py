"""Languages and hours of the week per developer, repository and UTC day (analysis.activity; docs/metrics.md)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from gitproductivity.core.db import Base


class LanguageRollup(Base):
    """Lines one developer added and deleted, and files changed, in one language in one repository on one day."""

    __tablename__ = "language_rollups"

    repository_id: Mapped[str] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True)
    developer_id: Mapped[str] = mapped_column(ForeignKey("developers.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date(), primary_key=True)
    language: Mapped[str] = mapped_column(String(40), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    lines_added: Mapped[int] = mapped_column(BigInteger, default=0)
    lines_deleted: Mapped[int] = mapped_column(BigInteger, default=0)
    files_changed: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_language_rollups_org_dev_day", "organization_id", "developer_id", "day"),)


class HourRollup(Base):
    """Commits one developer made in one repository on one UTC day at one hour of the week, in their own zone."""

    __tablename__ = "hour_rollups"

    repository_id: Mapped[str] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True)
    developer_id: Mapped[str] = mapped_column(ForeignKey("developers.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date(), primary_key=True)
    hour: Mapped[int] = mapped_column(SmallInteger, primary_key=True)  # 0 = Monday 00:00, 167 = Sunday 23:00
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    commits: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_hour_rollups_org_dev_day", "organization_id", "developer_id", "day"),)
