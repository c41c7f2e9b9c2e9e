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


class LanguageRead(BaseModel):
    language: str = Field(description="By file name, linguist-style (docs/metrics.md, Languages); `Other` if unknown")
    lines_added: int
    lines_deleted: int
    files_changed: int


_LANGUAGES = (
    "The developer's languages over the same range and repository, most lines changed (added + deleted) first, "
    "at most 10"
)


class DeveloperMetrics(BaseModel):
    developer_id: str
    name: str
    email: str
    is_bot: bool
    totals: MetricTotals
    languages: list[LanguageRead] = Field(default_factory=list, description=_LANGUAGES)


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
    languages: list[LanguageRead] = Field(default_factory=list, description=_LANGUAGES)


class LanguagesRead(BaseModel):
    repository_id: str | None
    team_id: str | None
    developer_id: str | None
    start: date | None = Field(serialization_alias="from")
    end: date | None = Field(serialization_alias="to")
    data: list[LanguageRead] = Field(description="Every language with lines in the scope, most lines changed first")


class HoursRead(BaseModel):
    repository_id: str | None
    team_id: str | None
    developer_id: str | None
    start: date | None = Field(serialization_alias="from")
    end: date | None = Field(serialization_alias="to")
    commits: int = Field(description="Non-merge commits in the scope: the sum of `hours`")
    hours: list[int] = Field(
        min_length=168,
        max_length=168,
        description="Commits per hour of the week in each author's own time zone (the offset of the author "
        "date): index = weekday * 24 + hour, Monday 00:00-00:59 is 0, Sunday 23:00-23:59 is 167",
    )
