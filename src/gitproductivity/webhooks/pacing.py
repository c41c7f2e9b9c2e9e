"""Per-endpoint rate limits held across every worker process: slots reserved in the claim's transaction.

An endpoint with `rate_limit_per_second = r` gets one POST every `1/r` seconds, whatever the number of workers.
Its row carries `rate_next_at`, the start of its next free slot. A claim (`claim`, which the dispatcher calls)
first takes the rate-limited endpoints with fewer than `REFILL_BELOW` seconds of slots left reserved, locked
`FOR NO KEY UPDATE SKIP LOCKED` (one worker reserves for an endpoint at a time; the others skip it rather than
wait, and the lock does not conflict with the key-share locks of deliveries being inserted). No test for due
deliveries there: a semi-join over the deliveries made every claim slower; an endpoint with nothing due simply
yields no rows. For each it claims up to `LOOKAHEAD` seconds' worth of due deliveries, gives the k-th the slot
`start + k/r` (`Job.not_before`, where `start` is the later of now and `rate_next_at`), and advances
`rate_next_at` past the last one, all in the same transaction. The dispatcher holds each such job until its
slot, and hands back one whose slot passed by more than `dispatcher.LATE_AFTER` (it takes a new slot) rather
than send it late, into slots other workers hold. Deliveries beyond the reserved slots stay pending, unclaimed:
they wait for their turn, and waiting is no attempt. The rest of the claim's room goes to endpoints without a
limit (`queue.claim`).

A slot reserved for a delivery that is then not sent (a shutdown, a worker's death, a late job) is lost, never
reused: the limit errs on the slow side. Slots are times from the claiming worker's clock, so workers on several
hosts need their clocks in step (NTP) for the spacing to hold exactly. On SQLite claims are serialised by the
database's single writer lock, so the same statements hold the limit across processes there too.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from gitproductivity.core.clock import utcnow
from gitproductivity.core.ids import new_id
from gitproductivity.webhooks import ordering, queue
from gitproductivity.webhooks.models import Delivery, DeliveryStatus, Webhook
from gitproductivity.webhooks.queue import Job

#: Slots are reserved at most this far ahead, so a claimed delivery waits at most this long for its turn.
LOOKAHEAD = 1.0
#: An endpoint is taken again once less than this much of its reserved time is left: claims reserve about half
#: a second of slots at a time instead of one slot per claim.
REFILL_BELOW = 0.5
#: Endpoints reserved for in one claim (each costs a statement).
MAX_ENDPOINTS_PER_CLAIM = 50


def claim(session: Session, *, limit: int, lease_seconds: float, worker_id: str | None = None) -> list[Job]:
    """Due deliveries of rate-limited endpoints within their slots, then of the others, up to `limit` in all."""
    jobs = claim_paced(session, limit=limit, lease_seconds=lease_seconds, worker_id=worker_id)
    if len(jobs) < limit:
        jobs += queue.claim(session, limit=limit - len(jobs), lease_seconds=lease_seconds, worker_id=worker_id)
    return jobs


#: An endpoint's slots are reserved again once its next free slot is less than this far ahead.
REFILL_AFTER = timedelta(seconds=LOOKAHEAD - REFILL_BELOW)


@lru_cache(maxsize=1)
def _endpoints_statement() -> Any:
    """Built once, run with `refill_before`: the rate-limited endpoints to reserve slots for. Every claim runs it,
    mostly to find none; built anew each time, it cost about 0.5 ms a claim (2 us a delivery in batches of 256)."""
    return (
        select(Webhook.id, Webhook.rate_limit_per_second, Webhook.rate_next_at)
        .where(
            Webhook.rate_limit_per_second.is_not(None),
            Webhook.enabled.is_(True),
            (Webhook.rate_next_at.is_(None)) | (Webhook.rate_next_at < bindparam("refill_before")),
        )
        .order_by(Webhook.id)
        .limit(MAX_ENDPOINTS_PER_CLAIM)
        .with_for_update(skip_locked=True, key_share=True, of=Webhook)
    )


def claim_paced(session: Session, *, limit: int, lease_seconds: float, worker_id: str | None = None) -> list[Job]:
    """Reserve slots of rate-limited endpoints and claim a due delivery for each (see the module's docstring)."""
    now = utcnow()
    postgresql = session.get_bind().dialect.name == "postgresql"
    horizon = now + timedelta(seconds=LOOKAHEAD)
    hooks = session.connection().execute(_endpoints_statement(), {"refill_before": now + REFILL_AFTER}).all()
    jobs: list[Job] = []
    for hook_id, limit_per_second, next_at in hooks:
        rate = float(limit_per_second or 1.0)  # never None: the query asks for a limit
        room = limit - len(jobs)
        if room <= 0:
            break
        start = max(now, next_at) if next_at is not None else now
        slots = min(room, max(1, math.ceil((horizon - start).total_seconds() * rate)))
        token = new_id("lse")
        picked = (
            select(Delivery.id)
            .where(
                Delivery.webhook_id == hook_id,
                Delivery.status == DeliveryStatus.PENDING,
                Delivery.next_attempt_at <= now,
                ordering.claimable(postgresql=postgresql),  # a keyed delivery waits for the earlier ones of its key
            )
            .order_by(Delivery.id)
            .limit(slots)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        ids = session.scalars(
            update(Delivery)
            .where(Delivery.id.in_(picked))
            .values(
                next_attempt_at=now + timedelta(seconds=LOOKAHEAD + lease_seconds),
                lease_token=token,
                worker_id=worker_id,
            )
            .returning(Delivery.id)
            .execution_options(synchronize_session=False)
        ).all()
        if not ids:
            continue
        claimed = queue.load_jobs(session, ids=ids, token=token, now=now, lease_seconds=LOOKAHEAD + lease_seconds)
        for k, job in enumerate(claimed):
            job.not_before = start + timedelta(seconds=k / rate)
            job.slot_seconds = 1 / rate
            job.worker_id = worker_id
        session.execute(
            update(Webhook)
            .where(Webhook.id == hook_id)
            .values(rate_next_at=start + timedelta(seconds=len(claimed) / rate))
            .execution_options(synchronize_session=False)
        )
        jobs += claimed
    return jobs


def next_due(session: Session) -> datetime | None:
    """When the dispatcher should claim again: the earliest due delivery of an endpoint without a limit, or the
    moment a rate-limited endpoint with pending deliveries can have slots reserved again."""
    times = [queue.next_due(session)]
    postgresql = session.get_bind().dialect.name == "postgresql"
    earliest = (
        select(func.min(Delivery.next_attempt_at))
        .where(
            Delivery.webhook_id == Webhook.id,
            Delivery.status == DeliveryStatus.PENDING,
            ordering.claimable(postgresql=postgresql),
        )
        .scalar_subquery()
    )
    rows = session.execute(
        select(Webhook.rate_next_at, earliest).where(
            Webhook.rate_limit_per_second.is_not(None), Webhook.enabled.is_(True)
        )
    )
    refill = timedelta(seconds=LOOKAHEAD - REFILL_BELOW)
    for next_at, first in rows:
        if first is not None:
            times.append(first if next_at is None else max(first, next_at - refill))
    known = [t for t in times if t is not None]
    return min(known) if known else None
