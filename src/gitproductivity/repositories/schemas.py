from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gitproductivity.core.pagination import Page


class RepositoryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(
        min_length=1,
        max_length=2000,
        description="Absolute local path, file://, https://, ssh:// or scp-style user@host:path",
    )
    name: str | None = Field(default=None, min_length=1, max_length=200, description="Defaults to the URL's last part")
    branch: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9._/-]*$",
        description="Branch to analyse instead of the default branch",
    )

    @field_validator("branch")
    @classmethod
    def _no_dot_dot(cls, value: str | None) -> str | None:
        if value is not None and (".." in value or value.endswith((".lock", "/", "."))):
            raise ValueError("is not a valid branch name")
        return value


class RepositoryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    url: str = Field(validation_alias="display_url", description="Credentials, if any, are replaced by ***")
    kind: str
    status: str
    created_at: datetime
    connected_at: datetime
    disconnected_at: datetime | None
    branch: str | None = Field(description="The branch asked for at connect time; null = the default branch")
    default_branch: str | None = Field(description="The default branch found by the first analysis")
    last_commit: str | None = Field(description="Head commit of the last successful analysis")
    last_analysed_at: datetime | None
    analysis_failures: int = Field(description="Failed analyses in a row; 0 once one succeeds")
    analysis_retry_at: datetime | None = Field(
        description="While analyses keep failing: when the schedule tries again (the backoff, docs/metrics.md)"
    )


RepositoryPage = Page[RepositoryRead]
