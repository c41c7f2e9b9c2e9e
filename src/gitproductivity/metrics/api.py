from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from gitproductivity.core.errors import ValidationFailed
from gitproductivity.core.http import ERROR_RESPONSES, PathId, unit_of_work
from gitproductivity.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, parse_sort
from gitproductivity.metrics import activity, service, table
from gitproductivity.metrics.schemas import (
    DeveloperMetrics,
    DeveloperMetricsList,
    DeveloperSeries,
    LanguageRead,
    MetricBucket,
    MetricTotals,
)
from gitproductivity.orgs.auth import CurrentPrincipal, allow
from gitproductivity.orgs.roles import Role

router = APIRouter(tags=["metrics"], responses=ERROR_RESPONSES, dependencies=[allow("metrics", write=Role.ADMIN)])

From = Annotated[date | None, Query(alias="from", description="First UTC day, inclusive (YYYY-MM-DD)")]
To = Annotated[date | None, Query(alias="to", description="Last UTC day, inclusive (YYYY-MM-DD)")]


@router.get("/v1/metrics/developers", response_model=DeveloperMetricsList)
def developers_metrics(
    principal: CurrentPrincipal,
    repository_id: str | None = None,
    team_id: Annotated[str | None, Query(description="Only the developers in this team")] = None,
    start: From = None,
    end: To = None,
    include_bots: bool = False,
    sort: Annotated[
        str | None,
        Query(
            max_length=40,
            description=f"Sort by one of {', '.join(table.SORTS)}; a leading `-` is descending. Ties are ordered "
            f"by name, then id. Default: `{table.DEFAULT_SORT}` (most commits first).",
        ),
    ] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Only developers whose name or e-mail contains this, any case")
    ] = None,
    after: Annotated[
        str | None, Query(max_length=4096, description="Cursor: the `next_cursor` of the previous page")
    ] = None,
    before: Annotated[
        str | None,
        Query(
            max_length=4096,
            description="Cursor: the `previous_cursor` of the page after, for the page before it (paging "
            "backwards); not with `after`",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> DeveloperMetricsList:
    """Totals per developer with activity over a range, in one repository or all of them, in one team or all;
    bots only when asked. Sorted, searched and paged by the database; `total` is the number of rows matching."""
    order = parse_sort(sort, allowed=table.SORTS, default=table.DEFAULT_SORT)
    if after is not None and before is not None:
        raise ValidationFailed(
            "pass either after or before, not both",
            details=[{"field": "before", "message": "not together with after"}],
        )
    with unit_of_work(read_only=True) as session:
        window = table.developers_window(
            session,
            organization_id=principal.organization_id,
            sort=order,
            repository_id=repository_id,
            team_id=team_id,
            start=start,
            end=end,
            include_bots=include_bots,
            q=q,
            after=after,
            before=before,
            limit=limit,
        )
        langs = activity.top_languages(
            session,
            organization_id=principal.organization_id,
            developer_ids=[row["developer_id"] for row in window.rows],
            repository_id=repository_id,
            start=start,
            end=end,
        )
    for row in window.rows:
        row["languages"] = [
            LanguageRead.model_validate(t, from_attributes=True) for t in langs.get(row["developer_id"], [])
        ]
    return DeveloperMetricsList(
        repository_id=repository_id,
        team_id=team_id,
        start=start,
        end=end,
        data=[DeveloperMetrics.model_validate(row) for row in window.rows],
        has_more=window.next_cursor is not None,
        next_cursor=window.next_cursor,
        previous_cursor=window.previous_cursor,
        total=window.total,
    )


@router.get("/v1/developers/{developer_id}/metrics", response_model=DeveloperSeries)
def developer_metrics(
    developer_id: PathId,
    principal: CurrentPrincipal,
    granularity: Literal["day", "week", "month"] = "day",
    repository_id: str | None = None,
    start: From = None,
    end: To = None,
) -> DeveloperSeries:
    """One developer's totals and per-day, per-week (Monday start) or per-month buckets with activity."""
    with unit_of_work() as session:
        dev, totals, buckets = service.developer_series(
            session,
            organization_id=principal.organization_id,
            developer_id=developer_id,
            granularity=granularity,
            repository_id=repository_id,
            start=start,
            end=end,
        )
        langs = activity.top_languages(
            session,
            organization_id=principal.organization_id,
            developer_ids=[dev.id],
            repository_id=repository_id,
            start=start,
            end=end,
        ).get(dev.id, [])
        return DeveloperSeries(
            developer_id=dev.id,
            name=dev.name,
            email=dev.email,
            granularity=granularity,
            repository_id=repository_id,
            totals=MetricTotals(**totals.as_dict()),
            buckets=[MetricBucket(start=day, **t.as_dict()) for day, t in buckets],
            languages=[LanguageRead.model_validate(t, from_attributes=True) for t in langs],
        )
