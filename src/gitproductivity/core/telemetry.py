"""Prometheus metrics: what every process counts, and how `/metrics` reads it (docs/observability.md).

Two kinds of figures, chosen by where the truth lives:

- **Counters and histograms of things that happen** (delivery attempts, analyses, API requests) are counted by
  the process they happen in, with `prometheus_client`. One process (`serve` with its in-process workers, the
  default) needs nothing more. Several processes on one host (`serve --no-workers` plus `gitproductivity
  worker`s) share them through prometheus_client's multi-process mode: set `PROMETHEUS_MULTIPROC_DIR` to an
  empty directory, the same for all of them, before they start; `/metrics` then sums every process's files.
  Analyses are counted by the worker that waits for the analysis child (`analysis.tasks`), never by the
  forkserver child itself, so the child writes no metric files.
- **Gauges of state** (due and pending deliveries, the oldest due delivery's age, disabled endpoints) are read
  from the database at scrape time (`collect_state`), so they are right whichever process answers and however
  many workers on however many hosts share the database; a gauge kept in memory would be per process.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# No `_created` series: a start time per series that Prometheus does not use, and that multi-process mode omits.
disable_created_metrics()  # type: ignore[no-untyped-call]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Every metric this package defines is registered here (not in prometheus_client's global registry).
REGISTRY = CollectorRegistry(auto_describe=True)

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200, 86400)
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_ANALYSIS_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)

WEBHOOK_ATTEMPTS = Counter(
    "gitproductivity_webhook_attempts",
    "Delivery attempts (POSTs) by outcome (succeeded, or the error kind of the delivery log) and status class.",
    ["outcome", "status_class"],
    registry=REGISTRY,
)
WEBHOOK_ATTEMPT_DURATION = Histogram(
    "gitproductivity_webhook_attempt_duration_seconds",
    "Time from the start of a delivery attempt to its answer (or its error).",
    buckets=_DURATION_BUCKETS,
    registry=REGISTRY,
)
WEBHOOK_COMMIT_TO_RECEIPT = Histogram(
    "gitproductivity_webhook_commit_to_receipt_seconds",
    "Time from an event's creation (its transaction) to a receiver's 2xx for one of its deliveries.",
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
ANALYSES = Counter(
    "gitproductivity_analyses",
    "Analyses finished by this installation's workers, by final status (succeeded, failed, lost).",
    ["status"],
    registry=REGISTRY,
)
ANALYSIS_DURATION = Histogram(
    "gitproductivity_analysis_duration_seconds",
    "Time from an analysis's start to its end, by final status.",
    ["status"],
    buckets=_ANALYSIS_BUCKETS,
    registry=REGISTRY,
)
COMMITS_READ = Counter(
    "gitproductivity_analysis_commits_read",
    "Commits read from git by finished analyses.",
    registry=REGISTRY,
)
HTTP_REQUESTS = Counter(
    "gitproductivity_http_requests",
    "HTTP requests answered, by method, route template (never the raw path) and status code.",
    ["method", "route", "status"],
    registry=REGISTRY,
)

#: The names `/metrics` exposes (the dashboard test checks every expression against them).
STATE_GAUGES = (
    "gitproductivity_webhook_deliveries_due",
    "gitproductivity_webhook_deliveries_pending",
    "gitproductivity_webhook_oldest_due_age_seconds",
    "gitproductivity_webhook_endpoints_disabled",
)


def status_class(code: int | None) -> str:
    return f"{code // 100}xx" if code is not None and 100 <= code < 600 else "none"


#: `WEBHOOK_ATTEMPTS`' child per (error kind or None, status code): looking a child up by its labels costs more
#: than the count itself. A few dozen at most (the error kinds of `webhooks.sender` times the codes met).
_attempt_counters: dict[tuple[str | None, int | None], Any] = {}


def _attempt_counter(error_kind: str | None, status_code: int | None) -> Any:
    key = (error_kind, status_code)
    child = _attempt_counters.get(key)
    if child is None:
        child = _attempt_counters[key] = WEBHOOK_ATTEMPTS.labels(error_kind or "succeeded", status_class(status_code))
    return child


def record_attempt(
    *,
    error_kind: str | None,
    status_code: int | None,
    duration_ms: float,
    event_at: datetime | None,
    started_at: datetime,
) -> None:
    """One delivery attempt (the dispatcher calls this after each POST), which started at `started_at` and took
    `duration_ms`. `event_at`: the event's creation, for the commit-to-receipt latency of a success (None for a
    test delivery): from the event to the attempt's end."""
    _attempt_counter(error_kind, status_code).inc()
    WEBHOOK_ATTEMPT_DURATION.observe(duration_ms / 1000)
    if error_kind is None and event_at is not None:
        receipt = (started_at - event_at).total_seconds() + duration_ms / 1000
        WEBHOOK_COMMIT_TO_RECEIPT.observe(max(0.0, receipt))


def record_analysis(*, status: str, seconds: float | None, commits: int) -> None:
    ANALYSES.labels(status).inc()
    if seconds is not None:
        ANALYSIS_DURATION.labels(status).observe(max(0.0, seconds))
    if commits > 0:
        COMMITS_READ.inc(commits)


class StateCollector(Collector):
    """Gauges read at scrape time by `read` (a function of the domain layer, handed in by the entry point)."""

    def __init__(self, read: Callable[[], dict[str, float]]) -> None:
        self.read = read

    def collect(self) -> Iterable[Metric]:
        values = self.read()
        helps = {
            "gitproductivity_webhook_deliveries_due": "Pending deliveries of enabled endpoints due now (unclaimed).",
            "gitproductivity_webhook_deliveries_pending": "Pending deliveries of enabled endpoints (due, leased, "
            "or waiting for a retry).",
            "gitproductivity_webhook_oldest_due_age_seconds": "How long the oldest due delivery has been due (0 "
            "when none is).",
            "gitproductivity_webhook_endpoints_disabled": "Webhook endpoints that are disabled (by hand or by the "
            "auto-disable rule).",
        }
        for name in STATE_GAUGES:
            yield GaugeMetricFamily(name, helps[name], value=values[name])


def exposition(read_state: Callable[[], dict[str, float]]) -> bytes:
    """The `/metrics` body: this process's (or, in multi-process mode, every process's) counters and histograms,
    then the state gauges read from the database now."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted)  # type: ignore[no-untyped-call]
    else:
        counted = REGISTRY
    state = CollectorRegistry(auto_describe=False)
    state.register(StateCollector(read_state))
    return generate_latest(counted) + generate_latest(state)
