"""The delivery queue: the dispatcher's two database steps (fan-out of events into deliveries: `webhooks.fanout`).

The dispatcher (`webhooks.dispatcher`) claims due deliveries in batches under a lease (`claim`), POSTs them,
and writes the outcomes back in batches (`webhooks.outcomes.record`), a few transactions per batch rather than
one per delivery.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Integer, String, Table, Text, bindparam, func, select, text, update
from sqlalchemy.orm import Session

from gitproductivity.core import channels
from gitproductivity.core.clock import utcnow
from gitproductivity.core.ids import new_id
from gitproductivity.events.models import Event
from gitproductivity.webhooks import ordering, signing
from gitproductivity.webhooks.models import Delivery, DeliveryStatus, Webhook
from gitproductivity.webhooks.sender import Outcome

DELIVERIES = cast(Table, Delivery.__table__)


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
        Webhook.headers.cast(Text),  # JSON as text, parsed once per endpoint and batch (`_as_jobs`)
        Webhook.auth_type,
        Webhook.auth_secret,
        c.order_key,
        Webhook.client_cert_secret,
        Webhook.client_cert_info.cast(Text),
    )


def _parsed_once(documents: dict[str, Any], raw: str | None) -> Any:
    """A JSON column read as text, parsed the first time a batch meets that text: a batch's jobs mostly share a
    few endpoints, whose headers were parsed once per job before. The jobs of one endpoint share the object, which
    nothing changes (the dispatcher builds each request's headers anew)."""
    if raw is None:
        return None
    if raw not in documents:
        documents[raw] = json.loads(raw)
    return documents[raw]


def _as_jobs(rows: Iterable[Any], *, token: str, now: datetime, lease_seconds: float) -> list[Job]:
    jobs = []
    lease_until = time.monotonic() + lease_seconds
    documents: dict[str, Any] = {}
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
                extra_headers=_parsed_once(documents, r[14]),
                auth_type=r[15],
                auth_secret=r[16],
                order_key=r[17],
                client_cert_secret=r[18],
                client_cert_info=_parsed_once(documents, r[19]),
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
    SQLite: every transaction is `BEGIN IMMEDIATE`, so claims are serialised by the single writer lock; the claimed
    rows are read back by their new lease (`next_attempt_at = lease_until` on the due index, and the token), again
    one statement text whatever the batch size (by `id IN (...)` it was a new statement to prepare each time).
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
    # On the session's connection, not through the ORM's execution (nothing here loads or syncs ORM objects):
    # the ORM's layer cost 30-80 us a statement (docs/benchmarks.md, "Third pass").
    connection = session.connection()
    if postgresql:
        # No JIT for this short statement: the planner prices the ordering test per candidate row, and with many
        # keyed deliveries pending its estimate passes `jit_above_cost`; compiling then took ~60 ms of a claim
        # whose execution takes ~20 (docs/benchmarks.md, "The price of a held backlog").
        connection.execute(_NO_JIT)
        rows = connection.execute(_claim_statement(postgresql=True), params)
    else:
        connection.execute(_claim_statement(postgresql=False), params)
        rows = connection.execute(_leased_statement(), params)
    jobs = _as_jobs(rows, token=token, now=now, lease_seconds=lease_seconds)
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
    return claiming.execution_options(synchronize_session=False)


@lru_cache(maxsize=1)
def _leased_statement() -> Any:
    """SQLite: the jobs of the deliveries just claimed under `token` until `lease_until`."""
    return (
        select(*_job_columns(DELIVERIES))
        .join(Webhook, Webhook.id == Delivery.webhook_id)
        .outerjoin(Event, Event.id == Delivery.event_id)
        .where(
            Delivery.status == DeliveryStatus.PENDING,
            Delivery.next_attempt_at == bindparam("lease_until"),
            Delivery.lease_token == bindparam("token"),
        )
        .order_by(Delivery.id)
    )


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
