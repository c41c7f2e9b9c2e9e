from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gitproductivity.core.db import Base
from gitproductivity.core.types import UTCDateTime


class AnalysisStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Analysis(Base):
    """One analysis job of one repository: queued, then claimed by a worker under a lease, then finished.

    A worker renews `lease_expires_at` while it works; once the lease has expired any worker may take the job
    again (a crashed worker's job is not lost). `mode` says what the run did: a `full` read of the history, an
    `incremental` read of new commits only, or nothing new (`up_to_date`); `reason` says why a full read.
    """

    __tablename__ = "analyses"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    repository_id: Mapped[str] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default=AnalysisStatus.QUEUED)
    trigger: Mapped[str] = mapped_column(String(20))  # connect | api | ui | cli | schedule | retry
    full: Mapped[bool] = mapped_column(Boolean, default=False)  # a full re-analysis was asked for
    mode: Mapped[str | None] = mapped_column(String(20), nullable=True)  # full | incremental | up_to_date
    reason: Mapped[str | None] = mapped_column(String(40), nullable=True)  # why a full read (first, force_push…)
    branch: Mapped[str | None] = mapped_column(String(255), nullable=True)
    base_commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    head_commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    commits_total: Mapped[int] = mapped_column(Integer, default=0)
    commits_done: Mapped[int] = mapped_column(Integer, default=0)
    commits_analysed: Mapped[int] = mapped_column(Integer, default=0)
    new_commits: Mapped[int] = mapped_column(Integer, default=0)
    developers_updated: Mapped[int] = mapped_column(Integer, default=0)
    # Commits of the history left out (`skipped_commits`) or counted with a normalised author
    # (`adjusted_commits`), and why: `{"skipped": [{reason, count, examples}], "adjusted": [...]}` (analysis.commits).
    skipped_commits: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    adjusted_commits: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    commit_issues: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    error: Mapped[str | None] = mapped_column(Text(), nullable=True)
    fetch_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    read_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    store_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    @property
    def skipped_reasons(self) -> list[dict[str, Any]]:
        return list((self.commit_issues or {}).get("skipped", []))

    @property
    def adjusted_reasons(self) -> list[dict[str, Any]]:
        return list((self.commit_issues or {}).get("adjusted", []))

    __table_args__ = (
        Index("ix_analyses_status_created", "status", "created_at"),
        Index("ix_analyses_repo_created", "repository_id", "created_at"),
    )


class OwnershipState(Base):
    """The last ownership computation of a repository: at which head, under which rules (`fingerprint`:
    `analysis.ownership.fingerprint`), and what it found. One row per repository."""

    __tablename__ = "ownership_states"

    repository_id: Mapped[str] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    head_commit: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(20))  # full | incremental
    files_blamed: Mapped[int] = mapped_column(Integer, default=0)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OwnershipFile(Base):
    """One file's blame at the head, the cache an incremental computation reuses: `commits` maps each commit
    that owns lines of the file to their number (null for a binary file). `path_key` is the SHA-256 of `path`
    (an index entry's size is bounded, a path's is not)."""

    __tablename__ = "ownership_files"

    repository_id: Mapped[str] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True)
    path_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    path: Mapped[str] = mapped_column(Text())
    blob: Mapped[str] = mapped_column(String(64))
    commits: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class OwnershipCommit(Base):
    """Who one commit that owns lines at the head is, under the repository's current rules (mailmap): its identity
    ("" when it cannot be attributed), author time and name. An incremental computation looks up only the commits
    it has not met before; a full one writes them all again."""

    __tablename__ = "ownership_commits"

    repository_id: Mapped[str] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True)
    commit: Mapped[str] = mapped_column(String(64), primary_key=True)
    identity: Mapped[str] = mapped_column(Text())
    author_time: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(Text())


class OwnershipDirectory(Base):
    """Totals of one directory ("" is the repository's root) at the head: counted lines and files, the lines of
    commits that cannot be attributed and of bots, and the bus factor (people only)."""

    __tablename__ = "ownership_directories"

    repository_id: Mapped[str] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True)
    path_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    path: Mapped[str] = mapped_column(Text())
    parent_key: Mapped[str | None] = mapped_column(String(64), nullable=True)  # null for the root
    files: Mapped[int] = mapped_column(Integer, default=0)
    lines: Mapped[int] = mapped_column(Integer, default=0)
    bot_lines: Mapped[int] = mapped_column(Integer, default=0)
    unattributed_lines: Mapped[int] = mapped_column(Integer, default=0)
    bus_factor: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_ownership_directories_parent", "repository_id", "parent_key"),)


class OwnershipLine(Base):
    """Lines one developer owns in one directory (and everything beneath it) at the head."""

    __tablename__ = "ownership_lines"

    repository_id: Mapped[str] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True)
    path_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    developer_id: Mapped[str] = mapped_column(ForeignKey("developers.id", ondelete="CASCADE"), primary_key=True)
    lines: Mapped[int] = mapped_column(Integer, default=0)
