from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from gitproductivity.core.http import ERROR_RESPONSES, PathId, unit_of_work
from gitproductivity.metrics import service
from gitproductivity.metrics.schemas import (
    DeveloperMetrics,
    DeveloperMetricsList,
    DeveloperSeries,
    MetricBucket,
    MetricTotals,
)
from gitproductivity.orgs.auth import CurrentPrincipal

router = APIRouter(tags=["metrics"], responses=ERROR_RESPONSES)

From = Annotated[date | None, Query(alias="from", description="First UTC day, inclusive (YYYY-MM-DD)")]
To = Annotated[date | None, Query(alias="to", description="Last UTC day, inclusive (YYYY-MM-DD)")]


@router.get("/v1/metrics/developers", response_model=DeveloperMetricsList)
def developers_metrics(
    principal: CurrentPrincipal,
    repository_id: str | None = None,
    start: From = None,
    end: To = None,
    include_bots: bool = False,
) -> DeveloperMetricsList:
    """Totals per developer over a range, in one repository or all of them; bots only when asked."""
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
        return DeveloperMetricsList(repository_id=repository_id, start=start, end=end, data=data)


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
