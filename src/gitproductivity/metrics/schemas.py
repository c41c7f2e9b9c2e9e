from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field


class MetricTotals(BaseModel):
    commits: int
    merges: int
    lines_added: int
    lines_deleted: int
    files_changed: int
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
    previous_cursor: str | None = Field(
        default=None, description="Pass as `before` for the previous page (None on the first page)"
    )
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
