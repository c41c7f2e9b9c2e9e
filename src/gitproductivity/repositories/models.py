from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gitproductivity.core.db import Base
from gitproductivity.core.types import UTCDateTime
from gitproductivity.repositories.urls import redact


class RepositoryStatus(StrEnum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


class Repository(Base):
    """A connected git repository. Disconnecting keeps the row (and its metrics) with status `disconnected`."""

    __tablename__ = "repositories"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    # As given (may hold credentials for https clones); never logged or returned: see `display_url`.
    url: Mapped[str] = mapped_column(Text())
    kind: Mapped[str] = mapped_column(String(10))  # "local" | "remote"
    # One per repository and organisation, however its location was written (`urls.Location.identity`): the
    # resolved git directory of a local repository, the normalised URL of a remote one (no credentials).
    identity: Mapped[str] = mapped_column(Text())
    status: Mapped[str] = mapped_column(String(20), default=RepositoryStatus.CONNECTED)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime())
    disconnected_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Analysis state: the branch asked for (None: the default branch), the default branch found in the
    # repository, the last analysed head commit and a fingerprint of the counting rules it was analysed with.
    branch: Mapped[str | None] = mapped_column(String(255), nullable=True)
    default_branch: Mapped[str | None] = mapped_column(String(255), nullable=True)
    last_commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    rules_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_analysed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Failed analyses in a row (0 once one succeeds) and when the schedule may try again (analysis.jobs backoff).
    analysis_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    analysis_retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        Index("ix_repositories_org_id", "organization_id", "id"),
        Index("ix_repositories_org_url", "organization_id", "url"),
        Index("uq_repositories_org_identity", "organization_id", "identity", unique=True),
    )

    @property
    def display_url(self) -> str:
        return redact(self.url)
