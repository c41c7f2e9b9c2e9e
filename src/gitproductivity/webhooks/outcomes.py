"""Recording outcomes: the dispatcher's second database step (the first is `webhooks.queue.claim`).

A batch of results is written in one transaction: successes by one statement per (status code, lease), each
failure rescheduled or failed for good, the attempt log, the endpoints' health, the next delivery of an ordered
key released, and the owners told of deliveries that ran out of retries.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import String, Table, any_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from gitproductivity.core import channels
from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import bulk_insert
from gitproductivity.core.ids import new_id
from gitproductivity.core.settings import get_settings
from gitproductivity.webhooks import health, operational, ordering, policy
from gitproductivity.webhooks.models import Delivery, DeliveryAttempt, DeliveryStatus
from gitproductivity.webhooks.queue import Result

ATTEMPTS = cast(Table, DeliveryAttempt.__table__)


@lru_cache(maxsize=2)
def _succeed_statement(*, postgresql: bool) -> Any:
    """Built once, run with `ids`, `token`, `now` and `code` (the HTTP status) for a batch of successes. The ids are
    one parameter whatever their number, so the statement's text never changes: an array on PostgreSQL, a JSON
    array read by `json_each` on SQLite (`IN` with one parameter per id made SQLite prepare the statement anew for
    each batch size: 1.4-1.6 against 0.7-0.8 us a delivery)."""
    if postgresql:
        among = Delivery.id == any_(bindparam("ids", type_=ARRAY(String)))
    else:
        among = Delivery.id.in_(select(func.json_each(bindparam("ids", type_=String)).table_valued("value").c.value))
    return (
        update(Delivery)
        .where(among, Delivery.lease_token == bindparam("token"))
        .values(
            status=DeliveryStatus.SUCCEEDED,
            attempts=Delivery.attempts + 1,
            next_attempt_at=None,
            lease_token=None,
            completed_at=bindparam("now"),
            last_status_code=bindparam("code"),
            last_error=None,
        )
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    )


def _attempt_row(result: Result, retry_after: float | None, next_retry: float | None) -> dict[str, Any]:
    o = result.outcome
    return {
        "id": new_id("att"),
        "delivery_id": result.job.delivery_id,
        "number": result.job.number,
        "started_at": o.started_at,
        "duration_ms": round(o.duration_ms, 3),
        "request_headers": result.headers,
        "request_body": None,  # the delivery's payload, not copied (DeliveryAttempt.body_sent)
        "response_status": o.status_code,
        "response_headers": o.response_headers,
        "response_body": o.response_body,
        "error_kind": o.error_kind,
        "error": o.error,
        "retry_after_seconds": retry_after,
        "next_retry_seconds": next_retry,
    }


def record(session: Session, *, results: Sequence[Result]) -> list[str]:
    """Write outcomes: attempts logged, deliveries succeeded / rescheduled / failed, endpoints' health.

    Only the holder of a delivery's current lease may record it (a worker whose lease ran out and was taken
    over records nothing). Returns the ids of the deliveries that were recorded.
    """
    settings = get_settings()
    now = utcnow()
    recorded: list[str] = []
    ok_by_code: dict[tuple[int | None, str], list[str]] = defaultdict(list)
    for r in results:
        if r.outcome.ok:
            ok_by_code[(r.outcome.status_code, r.job.lease_token)].append(r.job.delivery_id)
    postgresql = session.get_bind().dialect.name == "postgresql"
    succeed = _succeed_statement(postgresql=postgresql)
    connection = session.connection()  # not the ORM's execution: nothing to sync (see `queue.claim`)
    for (code, token), ids in ok_by_code.items():
        listed = ids if postgresql else json.dumps(ids)
        succeeded = connection.execute(succeed, {"ids": listed, "token": token, "now": now, "code": code})
        recorded.extend(row[0] for row in succeeded)
    exhausted: list[Result] = []
    final: set[str] = set()  # failed for good
    waits: dict[str, tuple[float | None, float | None]] = {}  # Retry-After asked, wait scheduled: the attempt log
    for r in results:
        if r.outcome.ok:
            continue
        delay = (
            None if r.job.is_test else policy.next_delay(failed_attempts=r.job.number, schedule=settings.retry_schedule)
        )
        asked = policy.retry_after(status_code=r.outcome.status_code, headers=r.outcome.response_headers, now=now)
        if delay is not None:
            delay = policy.delay_with(scheduled=delay, asked=asked, schedule=settings.retry_schedule)
        waits[r.job.delivery_id] = (asked, delay)
        values: dict[str, Any] = {
            "attempts": Delivery.attempts + 1,
            "lease_token": None,
            "last_status_code": r.outcome.status_code,
            "last_error": r.outcome.error,
        }
        if delay is None:
            values.update(status=DeliveryStatus.FAILED, next_attempt_at=None, completed_at=now)
        else:
            values.update(next_attempt_at=now + timedelta(seconds=delay))
        done = session.execute(
            update(Delivery)
            .where(Delivery.id == r.job.delivery_id, Delivery.lease_token == r.job.lease_token)
            .values(**values)
            .returning(Delivery.id)
            .execution_options(synchronize_session=False)
        )
        if done.first() is not None:
            recorded.append(r.job.delivery_id)
            if delay is None:
                final.add(r.job.delivery_id)
                if not r.job.is_test:
                    exhausted.append(r)
    kept = set(recorded)
    rows = [_attempt_row(r, *waits.get(r.job.delivery_id, (None, None))) for r in results if r.job.delivery_id in kept]
    if rows:
        bulk_insert(session, ATTEMPTS, rows)  # COPY on PostgreSQL: the attempt log is the biggest write
    # Test webhooks say nothing about the endpoint's health (a receiver saved before it is deployed): left out.
    real = [(r.job.webhook_id, r.outcome.ok) for r in results if r.job.delivery_id in kept and not r.job.is_test]
    health.update(session, outcomes=real, now=now)
    # A keyed delivery that finished makes the next of its key due, in this same transaction (webhooks.ordering).
    # After the endpoints' rows are locked above: a fan-out holding a key's lock may be waiting for none of them.
    finished = [
        (r.job.webhook_id, r.job.order_key)
        for r in results
        if r.job.order_key is not None and r.job.delivery_id in kept and (r.outcome.ok or r.job.delivery_id in final)
    ]
    ordering.release(session, keys=finished, now=now)
    health.notify_failed(session, exhausted=[_failure(r) for r in exhausted])
    if any(r.job.order_key is not None for r in results if r.job.delivery_id in kept):
        channels.EVENTS.notify(session)  # the next delivery of a key may be due now: dispatchers claim it at once
    return recorded


def _failure(result: Result) -> operational.Failure:
    job = result.job
    return operational.Failure(
        job.organization_id,
        job.webhook_id,
        job.url,
        job.delivery_id,
        job.event_id,
        job.event_type,
        job.number,
        result.outcome.error,
        result.outcome.status_code,
    )
