"""The delivery queue: the dispatcher's two database steps (fan-out of events into deliveries: `webhooks.fanout`).

The dispatcher (`webhooks.dispatcher`) claims due deliveries in batches under a lease (`claim`), POSTs them,
and writes the outcomes back in batches (`record`), a few transactions per batch rather than one per delivery.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Integer, String, Table, any_, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from gitproductivity.core import channels
from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import bulk_insert
from gitproductivity.core.ids import new_id
from gitproductivity.core.settings import get_settings
from gitproductivity.events.models import Event
from gitproductivity.webhooks import health, operational, ordering, policy, signing
from gitproductivity.webhooks.models import Delivery, DeliveryAttempt, DeliveryStatus, Webhook
from gitproductivity.webhooks.sender import Outcome

DELIVERIES = cast(Table, Delivery.__table__)

ATTEMPTS = cast(Table, DeliveryAttempt.__table__)


@dataclass
class Job:
    """A claimed delivery, with everything needed to sign and send it."""

    delivery_id: str
    organization_id: str
    webhook_id: str
    url: str
    event_id: str
    event_type: str
    body: bytes
    secret: str
    old_secrets: tuple[str, ...]
    number: int  # this attempt's number, 1-based
    lease_token: str
    lease_until: float  # time.monotonic() when the lease ends
    is_test: bool = False
    worker_id: str | None = None  # the registration (core.workers) the claim was made under
    event_at: datetime | None = None  # the event's creation (None for a test delivery): commit-to-receipt metric
    trace: str | None = None  # traceparent of the last step in the delivery's trace (core.tracing); None when off
    extra_headers: dict[str, str] | None = None  # the endpoint's own headers (webhooks.options)
    auth_type: str | None = None  # its credentials, still encrypted (webhooks.credentials)
    auth_secret: str | None = None
    client_cert_secret: str | None = None  # its client certificate, still encrypted (webhooks.client_certs)
    client_cert_info: dict[str, str] | None = None
    not_before: datetime | None = None  # a rate-limited endpoint's slot (webhooks.pacing): the POST waits for it
    slot_seconds: float = 0.0  # and the time between its slots (1 / its limit)
    order_key: str | None = None  # an ordered endpoint's key (webhooks.ordering): its outcome frees the next one

    def headers(self, timestamp: int) -> dict[str, str]:
        """The endpoint's headers, then ours (signature, event, delivery); Authorization is added by the sender."""
        signed = signing.headers(
            body=self.body,
            event_id=self.event_id,
            event_type=self.event_type,
            delivery_id=self.delivery_id,
            secret=self.secret,
            old_secrets=self.old_secrets,
            timestamp=timestamp,
        )
        return {**self.extra_headers, **signed} if self.extra_headers else signed


@dataclass
class Result:
    job: Job
    headers: dict[str, str]
    outcome: Outcome


def _job_columns(source: Any) -> tuple[Any, ...]:
    """What a Job needs, from `source` (the deliveries table, or the claiming statement's RETURNING)."""
    c = source.c
    return (
        c.id,
        c.organization_id,
        c.webhook_id,
        c.event_id,
        c.event_type,
        c.attempts,
        c.is_test,
        func.coalesce(c.payload, Event.payload),
        Webhook.url,
        Webhook.secret,
        Webhook.previous_secret,
        Webhook.previous_secret_expires_at,
        Event.created_at,
        c.trace_context,
        Webhook.headers,
        Webhook.auth_type,
        Webhook.auth_secret,
        c.order_key,
        Webhook.client_cert_secret,
        Webhook.client_cert_info,
    )


def _as_jobs(rows: Iterable[Any], *, token: str, now: datetime, lease_seconds: float) -> list[Job]:
    jobs = []
    lease_until = time.monotonic() + lease_seconds
    for r in rows:
        old = (r[10],) if r[10] and r[11] is not None and r[11] > now else ()
        jobs.append(
            Job(
                delivery_id=r[0],
                organization_id=r[1],
                webhook_id=r[2],
                event_id=r[3],
                event_type=r[4],
                number=r[5] + 1,
                is_test=r[6],
                body=(r[7] or "").encode("utf-8"),
                url=r[8],
                secret=r[9],
                old_secrets=old,
                lease_token=token,
                lease_until=lease_until,
                event_at=None if r[6] else r[12],
                trace=r[13],
                extra_headers=r[14],
                auth_type=r[15],
                auth_secret=r[16],
                order_key=r[17],
                client_cert_secret=r[18],
                client_cert_info=r[19],
            )
        )
    return jobs


def load_jobs(session: Session, *, ids: Sequence[str], token: str, now: datetime, lease_seconds: float) -> list[Job]:
    if not ids:
        return []
    rows = session.execute(
        select(*_job_columns(DELIVERIES))
        .join(Webhook, Webhook.id == Delivery.webhook_id)
        .outerjoin(Event, Event.id == Delivery.event_id)
        .where(Delivery.id.in_(list(ids)))
        .order_by(Delivery.id)
    )
    return _as_jobs(rows, token=token, now=now, lease_seconds=lease_seconds)


def claim(session: Session, *, limit: int, lease_seconds: float, worker_id: str | None = None) -> list[Job]:
    """Take up to `limit` due deliveries of enabled endpoints under a lease, stamped with the claiming worker.

    PostgreSQL: `FOR UPDATE SKIP LOCKED`, so concurrent workers take disjoint rows, and one statement (the
    claiming UPDATE in a CTE, joined to endpoints and payloads) whose text never changes: reading the jobs back
    by `id IN (...)` made psycopg parse a new 256-parameter statement each time (about 14 us a delivery).
    SQLite: every transaction is `BEGIN IMMEDIATE`, so claims are serialised by the single writer lock.
    """
    now = utcnow()
    token = new_id("lse")
    postgresql = session.get_bind().dialect.name == "postgresql"
    params = {
        "now": now,
        "limit": limit,
        "lease_until": now + timedelta(seconds=lease_seconds),
        "token": token,
        "worker": worker_id,
    }
    if postgresql:
        # No JIT for this short statement: the planner prices the ordering test per candidate row, and with many
        # keyed deliveries pending its estimate passes `jit_above_cost`; compiling then took ~60 ms of a claim
        # whose execution takes ~20 (docs/benchmarks.md, "The price of a held backlog").
        session.execute(_NO_JIT)
        rows = session.execute(_claim_statement(postgresql=True), params)
        jobs = _as_jobs(rows, token=token, now=now, lease_seconds=lease_seconds)
    else:
        ids = session.scalars(_claim_statement(postgresql=False), params).all()
        jobs = load_jobs(session, ids=ids, token=token, now=now, lease_seconds=lease_seconds)
    for job in jobs:
        job.worker_id = worker_id
    return jobs


_NO_JIT = text("SET LOCAL jit = off")


@lru_cache(maxsize=2)
def _claim_statement(*, postgresql: bool) -> Any:
    """Built once, run with `now`, `limit`, `lease_until`, `token` and `worker`: building it (two CTEs) cost more than
    running it, and the claim is on every delivery's path."""
    due = (
        select(Delivery.id)
        .join(Webhook, Webhook.id == Delivery.webhook_id)
        .where(
            Delivery.status == DeliveryStatus.PENDING,
            Delivery.next_attempt_at <= bindparam("now"),
            Webhook.enabled.is_(True),
            Webhook.rate_limit_per_second.is_(None),  # rate-limited endpoints are claimed by `webhooks.pacing`
            ordering.claimable(postgresql=postgresql),  # a keyed delivery waits for the earlier ones of its key
        )
        .order_by(Delivery.next_attempt_at)
        .limit(bindparam("limit", type_=Integer))
        .with_for_update(skip_locked=True, of=Delivery)
        .cte("due")
    )
    claiming = (
        update(Delivery)
        .where(Delivery.id == due.c.id)
        .values(
            next_attempt_at=bindparam("lease_until"),
            lease_token=bindparam("token"),
            worker_id=bindparam("worker", type_=String),
        )
    )
    if postgresql:
        claimed = claiming.returning(*DELIVERIES.c).cte("claimed")
        return (
            select(*_job_columns(claimed))
            .select_from(claimed)
            .join(Webhook, Webhook.id == claimed.c.webhook_id)
            .outerjoin(Event, Event.id == claimed.c.event_id)
            .order_by(claimed.c.id)
        )
    return claiming.returning(Delivery.id).execution_options(synchronize_session=False)


def next_due(session: Session) -> datetime | None:
    """When the earliest pending delivery of an endpoint without a rate limit (including leased ones, at their
    lease's end) becomes due; a keyed delivery behind an earlier one of its key is not due (`webhooks.ordering`):
    the outcome of that earlier one wakes the dispatchers (`record`)."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    return session.scalar(
        select(func.min(Delivery.next_attempt_at))
        .join(Webhook, Webhook.id == Delivery.webhook_id)
        .where(
            Delivery.status == DeliveryStatus.PENDING,
            Webhook.enabled.is_(True),
            Webhook.rate_limit_per_second.is_(None),  # `webhooks.pacing.next_due` adds the rate-limited endpoints
            ordering.claimable(postgresql=postgresql),
        )
    )


def release(session: Session, *, jobs: Sequence[Job]) -> None:
    """Hand claimed but unsent deliveries back at once (graceful shutdown), instead of waiting for the lease."""
    for job in jobs:
        session.execute(
            update(Delivery)
            .where(Delivery.id == job.delivery_id, Delivery.lease_token == job.lease_token)
            .values(next_attempt_at=utcnow(), lease_token=None)
            .execution_options(synchronize_session=False)
        )


def release_claims_of(session: Session, worker_ids: Sequence[str]) -> int:
    """Hand back at once the leased deliveries of dead workers (a `core.workers` prune hook).

    A lease ends in the future, so the range `next_attempt_at > now` of the due index finds them without an index
    of their own. A new lease token comes with the next claim: the dead worker could record nothing anyway.
    """
    now = utcnow()
    done = session.execute(
        update(Delivery)
        .where(
            Delivery.status == DeliveryStatus.PENDING,
            Delivery.next_attempt_at > now,
            Delivery.lease_token.is_not(None),
            Delivery.worker_id.in_(list(worker_ids)),
        )
        .values(next_attempt_at=now, lease_token=None, worker_id=None)
        .execution_options(synchronize_session=False)
    )
    released = int(done.rowcount or 0)  # type: ignore[attr-defined]
    if released:
        channels.EVENTS.notify(session)  # dispatchers claim them now, not at their next poll
    return released


@lru_cache(maxsize=2)
def _succeed_statement(*, postgresql: bool) -> Any:
    """Built once, run with `ids`, `token`, `now` and `code` (the HTTP status) for a batch of successes."""
    ids = bindparam("ids", type_=ARRAY(String)) if postgresql else bindparam("ids", expanding=True)
    return (
        update(Delivery)
        .where(
            Delivery.id == any_(ids) if postgresql else Delivery.id.in_(ids), Delivery.lease_token == bindparam("token")
        )
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
        "request_body": result.job.body.decode("utf-8", errors="replace"),
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
    succeed = _succeed_statement(postgresql=session.get_bind().dialect.name == "postgresql")
    for (code, token), ids in ok_by_code.items():
        done = session.execute(succeed, {"ids": ids, "token": token, "now": now, "code": code})
        recorded.extend(row[0] for row in done)
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
