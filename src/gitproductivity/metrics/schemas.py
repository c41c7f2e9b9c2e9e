from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field


class MetricTotals(BaseModel):
    commits: int
    merges: int
    lines_added: int
    lines_deleted: int
    files_changed: int
    new_work: int = Field(0, description="Lines added that replace nothing (per diff hunk, added minus deleted)")
    refactor: int = Field(0, description="Deleted or replaced lines older than the churn window, anyone's")
    rework: int = Field(0, description="Deleted or replaced lines of one's own, younger than the churn window")
    help_others: int = Field(0, description="Deleted or replaced lines of someone else's, younger than the window")
    co_authored_commits: int = Field(0, description="Commits crediting this developer in a Co-authored-by trailer")
    active_days: int
    first_commit_at: datetime | None
    last_commit_at: datetime | None


class DeveloperMetrics(BaseModel):
    developer_id: str
    name: str
    email: str
    is_bot: bool
    totals: MetricTotals


class DeveloperMetricsList(BaseModel):
    repository_id: str | None
    team_id: str | None = None
    start: date | None = Field(serialization_alias="from")
    end: date | None = Field(serialization_alias="to")
    data: list[DeveloperMetrics]
    has_more: bool
    next_cursor: str | None = Field(description="Pass as `after` for the next page")
    total: int = Field(description="How many developers match the filters (all pages)")


class MetricBucket(MetricTotals):
    start: date


class DeveloperSeries(BaseModel):
    developer_id: str
    name: str
    email: str
    granularity: str
    repository_id: str | None
    totals: MetricTotals
    buckets: list[MetricBucket]
