from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gitproductivity.core.db import Base
from gitproductivity.core.types import UTCDateTime


class Developer(Base):
    """A person. Removing one keeps the row (and its history) with `removed_at` set."""

    __tablename__ = "developers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))  # primary email, lower-case
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    emails: Mapped[list[DeveloperEmail]] = relationship(
        back_populates="developer",
        cascade="all, delete-orphan",
        order_by="DeveloperEmail.email",
        lazy="selectin",
    )

    __table_args__ = (
        Index("ix_developers_org_id", "organization_id", "id"),
        # The default list's page, in order, whatever the planner's statistics (0020_developers_current_index).
        Index(
            "ix_developers_current",
            "organization_id",
            "id",
            postgresql_where=text("removed_at IS NULL"),
            sqlite_where=text("removed_at IS NULL"),
        ),
    )

    @property
    def aliases(self) -> list[str]:
        return [e.email for e in self.emails if not e.is_primary]


class DeveloperEmail(Base):
    """Every address that identifies a developer (primary and aliases); unique within an organisation."""

    __tablename__ = "developer_emails"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    developer_id: Mapped[str] = mapped_column(ForeignKey("developers.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)

    developer: Mapped[Developer] = relationship(back_populates="emails")

    __table_args__ = (UniqueConstraint("organization_id", "email"),)


class DeveloperCount(Base):
    """Part of an organisation's numbers of developers: current ones (`present`) and all (`total`) are the sums of
    its rows. Written only by triggers on `developers` (migration 0019_developer_counts), never by the code, so
    every write path keeps them exact; on PostgreSQL an organisation has a row per concurrent writer it had."""

    __tablename__ = "developer_counts"

    organization_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    present: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)
