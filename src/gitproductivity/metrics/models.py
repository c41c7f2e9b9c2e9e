from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from gitproductivity.core.db import Base
from gitproductivity.core.types import UTCDateTime


class DailyRollup(Base):
    """What one developer did in one repository on one UTC day (author dates). Queries sum these rows."""

    __tablename__ = "metric_rollups"

    repository_id: Mapped[str] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True)
    developer_id: Mapped[str] = mapped_column(ForeignKey("developers.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date(), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    commits: Mapped[int] = mapped_column(Integer, default=0)
    merges: Mapped[int] = mapped_column(Integer, default=0)
    lines_added: Mapped[int] = mapped_column(BigInteger, default=0)
    lines_deleted: Mapped[int] = mapped_column(BigInteger, default=0)
    files_changed: Mapped[int] = mapped_column(Integer, default=0)
    first_commit_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_commit_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Change categories of the lines deleted or replaced, and commits co-authored (docs/metrics.md).
    new_work: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    refactor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    rework: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    help_others: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    co_authored_commits: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (
        Index("ix_metric_rollups_org_dev_day", "organization_id", "developer_id", "day"),
        Index("ix_metric_rollups_org_repo_day", "organization_id", "repository_id", "day"),
    )
