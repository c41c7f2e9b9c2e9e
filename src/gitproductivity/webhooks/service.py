"""Webhook endpoints, fan-out of events into deliveries, and the claim/record steps of the dispatcher.

Fan-out runs inside `events.service.emit`, in the event's own transaction: an event exists with its
deliveries or not at all. The dispatcher (`webhooks.dispatcher`) claims due deliveries in batches under a
lease (`claim`), POSTs them, and writes the outcomes back in batches (`record`), a few transactions per
batch rather than one per delivery.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import Integer, String, Table, and_, any_, bindparam, delete, func, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from gitproductivity.core import wakeup
from gitproductivity.core.clock import isoformat_z, utcnow
from gitproductivity.core.db import after_commit, bulk_insert
from gitproductivity.core.errors import NotFound, ValidationFailed
from gitproductivity.core.ids import new_id
from gitproductivity.core.settings import get_settings
from gitproductivity.events.envelope import render
from gitproductivity.events.models import Event
from gitproductivity.events.payloads import sample_data
from gitproductivity.events.types import EVENT_TYPES, WEBHOOK_TEST
from gitproductivity.notifications import service as notifications
from gitproductivity.webhooks import policy, signing
from gitproductivity.webhooks.guard import DestinationRefused, Guard
from gitproductivity.webhooks.models import FAILED, PENDING, SUCCEEDED, Delivery, DeliveryAttempt, Webhook
from gitproductivity.webhooks.sender import Outcome

#: Same channel as the events outbox: the dispatcher wakes on either.
DISPATCH_CHANNEL = "gitproductivity_events"
ALL_EVENTS = "*"
MAX_URL_LENGTH = 2000
DELIVERIES = cast(Table, Delivery.__table__)
ATTEMPTS = cast(Table, DeliveryAttempt.__table__)


# --- endpoints ------------------------------------------------------------------------------------------


def display_url(url: str) -> str:
    """The URL with any credentials replaced by `***` (for notifications and logs)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _no_control_characters(value: str, field: str) -> str:
    """NUL and other control characters are never meaningful here, and PostgreSQL text cannot hold NUL."""
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValidationFailed(f"{field}: must not contain control characters", details=[{"field": field}])
    return value


def _check_url(url: str) -> str:
    url = _no_control_characters(url.strip(), "url")
    if len(url) > MAX_URL_LENGTH:
        raise ValidationFailed(f"url: longer than {MAX_URL_LENGTH} characters", details=[{"field": "url"}])
    try:
        port = urlsplit(url).port  # raises on a malformed port
        del port
        Guard.from_settings(get_settings()).check_url(url)
    except (ValueError, DestinationRefused) as exc:
        raise ValidationFailed(f"url: {exc}", details=[{"field": "url", "message": str(exc)}]) from None
    return url


def _check_events(events: Sequence[str]) -> list[str]:
    chosen = list(dict.fromkeys(e.strip() for e in events if e.strip()))
    if not chosen:
        raise ValidationFailed('events: choose at least one event type, or "*" for all', details=[{"field": "events"}])
    unknown = [e for e in chosen if e != ALL_EVENTS and e not in EVENT_TYPES]
    if unknown:
        raise ValidationFailed(
            f"events: unknown event type(s): {', '.join(unknown)}",
            details=[{"field": "events", "message": f'must be "*" or among {", ".join(EVENT_TYPES)}'}],
        )
    return [ALL_EVENTS] if ALL_EVENTS in chosen else chosen


def get(session: Session, *, organization_id: str, webhook_id: str) -> Webhook:
    hook = session.scalar(select(Webhook).where(Webhook.id == webhook_id, Webhook.organization_id == organization_id))
    if hook is None:
        raise NotFound(f"webhook {webhook_id} not found")
    return hook


def list_(session: Session, *, organization_id: str, after: str | None = None, limit: int = 50) -> list[Webhook]:
    stmt = select(Webhook).where(Webhook.organization_id == organization_id)
    if after:
        stmt = stmt.where(Webhook.id > after)
    return list(session.scalars(stmt.order_by(Webhook.id).limit(limit + 1)))


def create(
    session: Session, *, organization_id: str, url: str, events: Sequence[str], description: str = ""
) -> Webhook:
    now = utcnow()
    hook = Webhook(
        id=new_id("wh"),
        organization_id=organization_id,
        url=_check_url(url),
        description=_no_control_characters(description.strip(), "description"),
        events=_check_events(events),
        secret=signing.generate_secret(),
        enabled=True,
        created_at=now,
        updated_at=now,
    )
    session.add(hook)
    session.flush()
    session.info.pop("webhooks_by_org", None)
    return hook


def update_(
    session: Session,
    *,
    organization_id: str,
    webhook_id: str,
    url: str | None = None,
    events: Sequence[str] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
) -> Webhook:
    hook = get(session, organization_id=organization_id, webhook_id=webhook_id)
    if url is not None:
        hook.url = _check_url(url)
    if events is not None:
        hook.events = _check_events(events)
    if description is not None:
        hook.description = _no_control_characters(description.strip(), "description")
    if enabled is not None and enabled != hook.enabled:
        hook.enabled = enabled
        hook.disabled_reason = None if enabled else "disabled by a user"
        if enabled:
            hook.failing_since = None
            wake_dispatcher(session)  # deliveries held while it was disabled are due again
    hook.updated_at = utcnow()
    session.flush()
    session.info.pop("webhooks_by_org", None)
    return hook


def delete_(session: Session, *, organization_id: str, webhook_id: str) -> Webhook:
    """Remove an endpoint with its deliveries and their log."""
    hook = get(session, organization_id=organization_id, webhook_id=webhook_id)
    ids = select(Delivery.id).where(Delivery.webhook_id == hook.id)
    session.execute(delete(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(ids)))
    session.execute(delete(Delivery).where(Delivery.webhook_id == hook.id))
    session.delete(hook)
    session.flush()
    session.info.pop("webhooks_by_org", None)
    return hook


def rotate_secret(
    session: Session, *, organization_id: str, webhook_id: str, overlap_seconds: float | None = None
) -> Webhook:
    """New secret now; the old one keeps signing `webhook-signature` (after the new) for the overlap window."""
    hook = get(session, organization_id=organization_id, webhook_id=webhook_id)
    overlap = get_settings().webhook_secret_overlap if overlap_seconds is None else overlap_seconds
    if overlap < 0:
        raise ValidationFailed("overlap_seconds must not be negative", details=[{"field": "overlap_seconds"}])
    now = utcnow()
    hook.previous_secret = hook.secret if overlap > 0 else None
    hook.previous_secret_expires_at = now + timedelta(seconds=overlap) if overlap > 0 else None
    hook.secret = signing.generate_secret()
    hook.updated_at = now
    session.flush()
    return hook


def wake_dispatcher(session: Session) -> None:
    """Wake dispatchers once this transaction commits (NOTIFY is transactional on PostgreSQL)."""
    if session.info.get("events_wakeup"):
        return
    session.info["events_wakeup"] = True
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": DISPATCH_CHANNEL})
    after_commit(session, lambda: wakeup.fire(DISPATCH_CHANNEL))


# --- fan-out ----------------------------------------------------------------------------------------------


def fan_out(session: Session, *, event: Event) -> int:
    """One pending delivery per enabled endpoint subscribed to the event's type, in the event's transaction.

    The organisation's endpoints are read once per transaction (an analysis may emit thousands of events).
    """
    if event.type == WEBHOOK_TEST:
        return 0
    cache: dict[str, list[tuple[str, list[str]]]] = session.info.setdefault("webhooks_by_org", {})
    hooks = cache.get(event.organization_id)
    if hooks is None:
        rows = session.execute(
            select(Webhook.id, Webhook.events).where(
                Webhook.organization_id == event.organization_id, Webhook.enabled.is_(True)
            )
        )
        hooks = cache[event.organization_id] = [(r[0], list(r[1])) for r in rows]
    targets = [hook_id for hook_id, types in hooks if ALL_EVENTS in types or event.type in types]
    if not targets:
        return 0
    now = utcnow()
    session.execute(
        insert(DELIVERIES),  # Core insert: no ORM bookkeeping per row
        [
            {
                "id": new_id("dlv"),
                "organization_id": event.organization_id,
                "webhook_id": hook_id,
                "event_id": event.id,
                "event_type": event.type,
                "is_test": False,
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for hook_id in targets
        ],
    )
    return len(targets)


# --- claim and record (the dispatcher's two database steps) ---------------------------------------------


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

    def headers(self, timestamp: int) -> dict[str, str]:
        return signing.headers(
            body=self.body,
            event_id=self.event_id,
            event_type=self.event_type,
            delivery_id=self.delivery_id,
            secret=self.secret,
            old_secrets=self.old_secrets,
            timestamp=timestamp,
        )


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
            )
        )
    return jobs


def _jobs(session: Session, *, ids: Sequence[str], token: str, now: datetime, lease_seconds: float) -> list[Job]:
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


def claim(session: Session, *, limit: int, lease_seconds: float) -> list[Job]:
    """Take up to `limit` due deliveries of enabled endpoints under a lease.

    PostgreSQL: `FOR UPDATE SKIP LOCKED`, so concurrent workers take disjoint rows, and one statement (the
    claiming UPDATE in a CTE, joined to endpoints and payloads) whose text never changes: reading the jobs back
    by `id IN (...)` made psycopg parse a new 256-parameter statement each time (about 14 us a delivery).
    SQLite: every transaction is `BEGIN IMMEDIATE`, so claims are serialised by the single writer lock.
    """
    now = utcnow()
    token = new_id("lse")
    postgresql = session.get_bind().dialect.name == "postgresql"
    params = {"now": now, "limit": limit, "lease_until": now + timedelta(seconds=lease_seconds), "token": token}
    if postgresql:
        rows = session.execute(_claim_statement(postgresql=True), params)
        return _as_jobs(rows, token=token, now=now, lease_seconds=lease_seconds)
    ids = session.scalars(_claim_statement(postgresql=False), params).all()
    return _jobs(session, ids=ids, token=token, now=now, lease_seconds=lease_seconds)


@lru_cache(maxsize=2)
def _claim_statement(*, postgresql: bool) -> Any:
    """Built once, run with `now`, `limit`, `lease_until` and `token`: building it (two CTEs) cost more than
    running it, and the claim is on every delivery's path."""
    due = (
        select(Delivery.id)
        .join(Webhook, Webhook.id == Delivery.webhook_id)
        .where(Delivery.status == PENDING, Delivery.next_attempt_at <= bindparam("now"), Webhook.enabled.is_(True))
        .order_by(Delivery.next_attempt_at)
        .limit(bindparam("limit", type_=Integer))
        .with_for_update(skip_locked=True, of=Delivery)
        .cte("due")
    )
    claiming = (
        update(Delivery)
        .where(Delivery.id == due.c.id)
        .values(next_attempt_at=bindparam("lease_until"), lease_token=bindparam("token"))
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
    """When the earliest pending delivery (including leased ones, at their lease's end) becomes due."""
    return session.scalar(
        select(func.min(Delivery.next_attempt_at))
        .join(Webhook, Webhook.id == Delivery.webhook_id)
        .where(Delivery.status == PENDING, Webhook.enabled.is_(True))
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
            status=SUCCEEDED,
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


def _among(session: Session, column: Any, ids: Sequence[str]) -> Any:
    """`column IN (ids)`; on PostgreSQL `column = ANY(:ids)`: one array parameter, so the statement's text (and
    psycopg's parse of it) is the same whatever the batch size."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=ARRAY(String)))
    return column.in_(list(ids))


def _attempt_row(result: Result) -> dict[str, Any]:
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
    for r in results:
        if r.outcome.ok:
            continue
        delay = (
            None if r.job.is_test else policy.next_delay(failed_attempts=r.job.number, schedule=settings.retry_schedule)
        )
        values: dict[str, Any] = {
            "attempts": Delivery.attempts + 1,
            "lease_token": None,
            "last_status_code": r.outcome.status_code,
            "last_error": r.outcome.error,
        }
        if delay is None:
            values.update(status=FAILED, next_attempt_at=None, completed_at=now)
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
            if delay is None and not r.job.is_test:
                exhausted.append(r)
    kept = set(recorded)
    rows = [_attempt_row(r) for r in results if r.job.delivery_id in kept]
    if rows:
        bulk_insert(session, ATTEMPTS, rows)  # COPY on PostgreSQL: the attempt log is the biggest write
    _update_health(session, results=[r for r in results if r.job.delivery_id in kept], now=now)
    _notify_failed(session, exhausted=exhausted)
    return recorded


def _update_health(session: Session, *, results: Sequence[Result], now: datetime) -> None:
    """Track how long each endpoint has failed; disable it when that passes the auto-disable setting.

    Only endpoints whose state may change are read, locked in id order (workers recording outcomes for the
    same endpoints at once queue, never deadlock); while every endpoint is healthy that is nothing at all.
    """
    last: dict[str, bool] = {}
    for r in results:
        last[r.job.webhook_id] = r.outcome.ok
    if not last:
        return
    healthy = [hook_id for hook_id, ok in last.items() if ok]
    failing = [hook_id for hook_id, ok in last.items() if not ok]
    changing = (
        select(Webhook)
        .where(
            or_(
                and_(_among(session, Webhook.id, healthy), Webhook.failing_since.is_not(None)),
                _among(session, Webhook.id, failing),
            )
        )
        .order_by(Webhook.id)
        .with_for_update()
    )
    limit = get_settings().webhook_auto_disable_after
    for hook in session.scalars(changing):
        if last[hook.id]:
            hook.failing_since = None
        elif hook.failing_since is None:
            hook.failing_since = now
        elif limit > 0 and hook.enabled and (now - hook.failing_since).total_seconds() >= limit:
            _auto_disable(session, hook=hook, now=now)


def _auto_disable(session: Session, *, hook: Webhook, now: datetime) -> None:
    since = isoformat_z(hook.failing_since or now)
    hook.enabled = False
    hook.disabled_reason = f"disabled automatically: every delivery has failed since {since}"
    hook.updated_at = now
    notifications.create(
        session,
        organization_id=hook.organization_id,
        kind="webhook.disabled",
        subject=f"Webhook disabled: {display_url(hook.url)}",
        body=(
            f"The webhook {hook.id} ({display_url(hook.url)}) was disabled because every delivery to it has failed "
            f"since {since}. Its pending deliveries are kept and resume when you enable it again "
            '(PATCH /v1/webhooks/{id} {"enabled": true} or `gitproductivity webhooks enable`).'
        ),
        subject_id=hook.id,
    )


def _notify_failed(session: Session, *, exhausted: Sequence[Result]) -> None:
    """One notification per endpoint per batch, listing the deliveries that ran out of retries."""
    by_hook: dict[str, list[Result]] = defaultdict(list)
    for r in exhausted:
        by_hook[r.job.webhook_id].append(r)
    for hook_id, items in by_hook.items():
        first = items[0].job
        url = display_url(first.url)
        lines = [
            f"- {r.job.delivery_id} ({r.job.event_type}, event {r.job.event_id}): {r.outcome.error}" for r in items[:50]
        ]
        if len(items) > 50:
            lines.append(f"- and {len(items) - 50} more")
        notifications.create(
            session,
            organization_id=first.organization_id,
            kind="delivery.failed",
            subject=f"Webhook delivery failed: {url}" + (f" ({len(items)} deliveries)" if len(items) > 1 else ""),
            body=(
                f"These deliveries to webhook {hook_id} ({url}) failed after {first.number} attempts and will not "
                "be retried:\n" + "\n".join(lines) + "\n\nRe-send them with "
                "POST /v1/deliveries/{id}/redeliver or `gitproductivity webhooks redeliver DELIVERY_ID`."
            ),
            subject_id=first.delivery_id if len(items) == 1 else hook_id,
        )


# --- test deliveries ---------------------------------------------------------------------------------------


def start_test(session: Session, *, organization_id: str, webhook_id: str, event_type: str = WEBHOOK_TEST) -> Job:
    """A test delivery to one endpoint, already leased to the caller, who sends it at once (`webhook.test`, or a
    sample of any event type with `data.test = true`). Test envelopes are not events: the feed never shows them.
    """
    hook = get(session, organization_id=organization_id, webhook_id=webhook_id)
    if event_type != WEBHOOK_TEST and event_type not in EVENT_TYPES:
        raise ValidationFailed(
            f"unknown event type {event_type!r}",
            details=[{"field": "event", "message": f"must be among {WEBHOOK_TEST}, {', '.join(EVENT_TYPES)}"}],
        )
    now = utcnow()
    event_id = new_id("evt")
    body = render(event_id, event_type, now, sample_data(event_type, webhook_id=hook.id))
    token = new_id("lse")
    lease = get_settings().webhook_lease_seconds
    delivery = Delivery(
        id=new_id("dlv"),
        organization_id=organization_id,
        webhook_id=hook.id,
        event_id=event_id,
        event_type=event_type,
        payload=body,
        is_test=True,
        status=PENDING,
        attempts=0,
        next_attempt_at=now + timedelta(seconds=lease),
        lease_token=token,
        created_at=now,
    )
    session.add(delivery)
    session.flush()
    return _jobs(session, ids=[delivery.id], token=token, now=now, lease_seconds=lease)[0]


def finish_test(session: Session, *, result: Result) -> Webhook:
    """Record a test delivery's outcome and keep it on the endpoint."""
    record(session, results=[result])
    hook = session.get(Webhook, result.job.webhook_id)
    if hook is None:
        raise NotFound(f"webhook {result.job.webhook_id} not found")
    o = result.outcome
    hook.last_test_at = o.started_at
    hook.last_test_ok = o.ok
    hook.last_test_status_code = o.status_code
    hook.last_test_latency_ms = round(o.duration_ms, 1)
    hook.last_test_error = o.error
    hook.last_test_delivery_id = result.job.delivery_id
    return hook


# --- the delivery log -----------------------------------------------------------------------------------


def get_delivery(session: Session, *, organization_id: str, delivery_id: str) -> Delivery:
    delivery = session.scalar(
        select(Delivery).where(Delivery.id == delivery_id, Delivery.organization_id == organization_id)
    )
    if delivery is None:
        raise NotFound(f"delivery {delivery_id} not found")
    return delivery


def list_deliveries(
    session: Session,
    *,
    organization_id: str,
    webhook_id: str,
    status: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> list[Delivery]:
    """Newest first; up to `limit + 1` rows."""
    get(session, organization_id=organization_id, webhook_id=webhook_id)
    stmt = select(Delivery).where(Delivery.webhook_id == webhook_id)
    if status:
        stmt = stmt.where(Delivery.status == status)
    if after:
        stmt = stmt.where(Delivery.id < after)
    return list(session.scalars(stmt.order_by(Delivery.id.desc()).limit(limit + 1)))


def success_rates(
    session: Session, *, organization_id: str, webhook_ids: Sequence[str], recent: int = 50
) -> dict[str, tuple[int, int]]:
    """For each endpoint: (succeeded, finished) among its `recent` newest finished deliveries, in one query."""
    if not webhook_ids:
        return {}
    ranked = (
        select(
            Delivery.webhook_id,
            Delivery.status,
            func.row_number().over(partition_by=Delivery.webhook_id, order_by=Delivery.id.desc()).label("n"),
        )
        .join(Webhook, Webhook.id == Delivery.webhook_id)
        .where(
            Webhook.organization_id == organization_id,
            Delivery.webhook_id.in_(list(webhook_ids)),
            Delivery.status != PENDING,
        )
        .subquery()
    )
    rows = session.execute(
        select(ranked.c.webhook_id, ranked.c.status, func.count())
        .where(ranked.c.n <= recent)
        .group_by(ranked.c.webhook_id, ranked.c.status)
    )
    rates = {webhook_id: (0, 0) for webhook_id in webhook_ids}
    for webhook_id, status, count in rows:
        ok, finished = rates[webhook_id]
        rates[webhook_id] = (ok + (count if status == SUCCEEDED else 0), finished + count)
    return rates


def _again(session: Session, original: Delivery, now: datetime) -> Delivery:
    copy = Delivery(
        id=new_id("dlv"),
        organization_id=original.organization_id,
        webhook_id=original.webhook_id,
        event_id=original.event_id,
        event_type=original.event_type,
        payload=original.payload,
        is_test=original.is_test,
        status=PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(copy)
    return copy


def redeliver(session: Session, *, organization_id: str, delivery_id: str) -> Delivery:
    """A new delivery of the same event (same `webhook-id`, so receivers can dedupe), due now."""
    original = get_delivery(session, organization_id=organization_id, delivery_id=delivery_id)
    copy = _again(session, original, utcnow())
    session.flush()
    wake_dispatcher(session)
    return copy


def recover(session: Session, *, organization_id: str, webhook_id: str, since: datetime) -> list[Delivery]:
    """Re-send every event whose delivery to this endpoint failed since `since` and was not delivered since."""
    get(session, organization_id=organization_id, webhook_id=webhook_id)
    failed = session.scalars(
        select(Delivery)
        .where(
            Delivery.webhook_id == webhook_id,
            Delivery.status == FAILED,
            Delivery.is_test.is_(False),
            Delivery.created_at >= since,
        )
        .order_by(Delivery.id)
    )
    # Events already delivered (or on their way) again, by an earlier redelivery, are left alone.
    seen = set(
        session.scalars(select(Delivery.event_id).where(Delivery.webhook_id == webhook_id, Delivery.status != FAILED))
    )
    now = utcnow()
    copies = []
    for original in failed:
        if original.event_id not in seen:
            seen.add(original.event_id)
            copies.append(_again(session, original, now))
    session.flush()
    if copies:
        wake_dispatcher(session)
    return copies


def prune_attempts(session: Session, *, older_than: datetime) -> int:
    """Delete attempt logs older than the retention (deliveries themselves stay)."""
    result = session.execute(
        delete(DeliveryAttempt)
        .where(DeliveryAttempt.started_at < older_than)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
