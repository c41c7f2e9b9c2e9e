from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from gitproductivity.core.errors import ValidationFailed
from gitproductivity.core.http import ERROR_RESPONSES, PathId, unit_of_work
from gitproductivity.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor, page_from
from gitproductivity.metrics import service
from gitproductivity.metrics.schemas import (
    DeveloperMetrics,
    DeveloperMetricsList,
    DeveloperSeries,
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
    start: From = None,
    end: To = None,
    include_bots: bool = False,
    after: Annotated[
        str | None, Query(max_length=4096, description="Cursor: the `next_cursor` of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> DeveloperMetricsList:
    """Totals per developer over a range, in one repository or all of them; bots only when asked. Most commits
    first (then name, then id); the cursor carries the last row's place in that order."""
    with unit_of_work() as session:
        rows = service.developers_summary(
            session,
            organization_id=principal.organization_id,
            repository_id=repository_id,
            start=start,
            end=end,
            include_bots=include_bots,
        )
        data = [
            DeveloperMetrics(
                developer_id=dev.id,
                name=dev.name,
                email=dev.email,
                is_bot=dev.is_bot,
                totals=MetricTotals(**totals.as_dict()),
            )
            for dev, totals in rows
        ]
    first = 0
    if after is not None:
        key = _cursor_key(after)
        first = sum(1 for row in data if _order(row) <= key)  # `data` is in `_order`
    page = page_from(data, start=first, limit=limit, cursor=lambda row: encode_cursor(_order(row)))
    return DeveloperMetricsList(
        repository_id=repository_id,
        start=start,
        end=end,
        data=page.data,
        has_more=page.has_more,
        next_cursor=page.next_cursor,
    )


def _order(row: DeveloperMetrics) -> tuple[int, str, str]:
    """The list's order, as a sort key: most commits first, then name, then id."""
    return (-row.totals.commits, row.name, row.developer_id)


def _cursor_key(after: str) -> tuple[int, str, str]:
    key = decode_cursor(after)
    if len(key) != 3 or type(key[0]) is not int or not all(isinstance(k, str) for k in key[1:]):
        raise ValidationFailed("invalid cursor", details=[{"field": "after", "message": "pass the `next_cursor`"}])
    return (key[0], key[1], key[2])


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
        return DeveloperSeries(
            developer_id=dev.id,
            name=dev.name,
            email=dev.email,
            granularity=granularity,
            repository_id=repository_id,
            totals=MetricTotals(**totals.as_dict()),
            buckets=[MetricBucket(start=day, **t.as_dict()) for day, t in buckets],
        )
