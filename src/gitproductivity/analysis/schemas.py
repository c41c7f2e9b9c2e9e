from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from gitproductivity.core.pagination import Page


class AnalysisCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    full: bool = Field(default=False, description="Read the whole history again instead of only new commits")


class CommitIssue(BaseModel):
    reason: str = Field(
        description="skipped: unreadable, no_author, missing_email, invalid_date, malformed_output; adjusted: "
        "author_date_replaced, date_clamped, control_characters, invalid_utf8, truncated"
    )
    count: int = Field(description="Commits with this reason")
    examples: list[str] = Field(description="Up to three of those commits' ids")


class AnalysisRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    repository_id: str
    status: str = Field(description="queued | running | succeeded | failed")
    trigger: str
    full: bool
    mode: str | None = Field(description="full | incremental | up_to_date (once finished)")
    reason: str | None = Field(
        description="Why the history was read in full: first, requested, rules_changed, force_push"
    )
    branch: str | None
    base_commit: str | None
    head_commit: str | None
    commits_total: int = Field(description="Commits to read in this run (known once reading starts)")
    commits_done: int
    commits_analysed: int
    new_commits: int
    developers_updated: int
    skipped_commits: int = Field(
        description="Commits of the history left out: git cannot read them, or they have no author, e-mail or date"
    )
    skipped_reasons: list[CommitIssue] = Field(description="Why, per reason")
    adjusted_commits: int = Field(
        description="Commits counted with a normalised author: a date out of range, control characters, invalid "
        "UTF-8, a name or e-mail too long"
    )
    adjusted_reasons: list[CommitIssue] = Field(description="What was normalised, per reason")
    attempts: int
    error: str | None
    fetch_ms: int | None
    read_ms: int | None
    store_ms: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


AnalysisPage = Page[AnalysisRead]


class OwnerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    developer_id: str
    name: str
    email: str
    is_bot: bool = Field(description="Bots own lines like anyone, but never count toward a bus factor")
    lines: int = Field(description="Lines of the directory's files at the analysed head that git blame gives them")
    share: float = Field(description="lines / the directory's lines (0 to 1, four decimals)")


class OwnershipDirectoryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    path: str = Field(description="The subdirectory's path from the repository's root")
    files: int
    lines: int
    bus_factor: int


class OwnershipRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    repository_id: str
    path: str = Field(description='The directory ("" for the whole repository)')
    head_commit: str | None = Field(description="The analysed head ownership was computed at (null: not yet)")
    computed_at: datetime | None
    files: int = Field(description="Counted files beneath the directory: not excluded, not binary")
    lines: int = Field(description="Their lines at the head")
    bot_lines: int = Field(description="Lines owned by bots")
    unattributed_lines: int = Field(description="Lines of commits without a usable author (skipped commits)")
    bus_factor: int = Field(description="The fewest people (bots apart) who together own at least half the lines")
    owners: list[OwnerRead] = Field(description="Everyone who owns lines here, most lines first")
    directories: list[OwnershipDirectoryRead] = Field(description="Immediate subdirectories with counted lines")
