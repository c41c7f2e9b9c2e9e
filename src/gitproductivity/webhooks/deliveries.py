"""The delivery log: reading deliveries, success rates, redelivery and recovery, pruning old attempts."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from gitproductivity.core import channels
from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import get_owned
from gitproductivity.core.errors import ValidationFailed
from gitproductivity.core.ids import id_floor, new_id
from gitproductivity.webhooks import endpoints
from gitproductivity.webhooks.models import Delivery, DeliveryAttempt, DeliveryStatus, Webhook


def get(session: Session, *, organization_id: str, delivery_id: str) -> Delivery:
    return get_owned(session, Delivery, organization_id=organization_id, id=delivery_id, what="delivery")


#: A status code the log is searched by: one ("503") or a class ("5xx").
STATUS_CODE = re.compile(r"[1-5](\d\d|xx)")


@dataclass(frozen=True)
class Search:
    """What the delivery log is searched by, besides the status: all that are given must hold."""

    status_code: str | None = None  # "503", or a class: "5xx"
    event_type: str | None = None
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before


#: Ids are time-sortable (core.ids); a time bound also bounds the id, with this much slack for the two clocks.
_ID_SLACK = timedelta(seconds=5)


def _id_at(moment: datetime, shift: timedelta) -> str:
    try:
        return id_floor("dlv", moment + shift)
    except OverflowError:
        return id_floor("dlv", moment)


def _searched(stmt: Any, search: Search) -> Any:
    if search.status_code:
        if search.status_code.endswith("xx"):
            low = int(search.status_code[0]) * 100
            stmt = stmt.where(Delivery.last_status_code >= low, Delivery.last_status_code < low + 100)
        else:
            stmt = stmt.where(Delivery.last_status_code == int(search.status_code))
    if search.event_type:
        stmt = stmt.where(Delivery.event_type == search.event_type)
    # created_at decides; the id bound lets the (webhook_id, …, id) indexes skip the rest of the history.
    if search.since is not None:
        stmt = stmt.where(Delivery.created_at >= search.since, Delivery.id >= _id_at(search.since, -_ID_SLACK))
    if search.until is not None:
        stmt = stmt.where(Delivery.created_at < search.until, Delivery.id < _id_at(search.until, _ID_SLACK))
    return stmt


def list_(
    session: Session,
    *,
    organization_id: str,
    webhook_id: str,
    status: str | None = None,
    search: Search | None = None,
    after: str | None = None,
    limit: int = 50,
) -> list[Delivery]:
    """Newest first; up to `limit + 1` rows."""
    endpoints.get(session, organization_id=organization_id, webhook_id=webhook_id)
    stmt = select(Delivery).where(Delivery.webhook_id == webhook_id)
    if status:
        stmt = stmt.where(Delivery.status == status)
    if search is not None:
        stmt = _searched(stmt, search)
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
            Delivery.status != DeliveryStatus.PENDING,
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
        rates[webhook_id] = (ok + (count if status == DeliveryStatus.SUCCEEDED else 0), finished + count)
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
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(copy)
    return copy


def same_event(session: Session, *, organization_id: str, delivery: Delivery) -> list[Delivery]:
    """Every delivery of this delivery's event to its endpoint, oldest first: the first is the original, the
    others its redeliveries (and recoveries)."""
    stmt = select(Delivery).where(
        Delivery.organization_id == organization_id,
        Delivery.webhook_id == delivery.webhook_id,
        Delivery.event_id == delivery.event_id,
    )
    return list(session.scalars(stmt.order_by(Delivery.created_at, Delivery.id).limit(101)))


def redeliver(session: Session, *, organization_id: str, delivery_id: str) -> Delivery:
    """A new delivery of the same event (same `webhook-id`, so receivers can dedupe), due now."""
    original = get(session, organization_id=organization_id, delivery_id=delivery_id)
    copy = _again(session, original, utcnow())
    session.flush()
    channels.EVENTS.notify(session)
    return copy


def recover(
    session: Session, *, organization_id: str, webhook_id: str, since: datetime, until: datetime | None = None
) -> list[Delivery]:
    """Re-send every event whose delivery to this endpoint failed in [`since`, `until`) and was not delivered
    since (`until` defaults to now)."""
    endpoints.get(session, organization_id=organization_id, webhook_id=webhook_id)
    if until is not None and until <= since:
        raise ValidationFailed("until: must be after since", details=[{"field": "until", "message": "after since"}])
    stmt = select(Delivery).where(
        Delivery.webhook_id == webhook_id,
        Delivery.status == DeliveryStatus.FAILED,
        Delivery.is_test.is_(False),
        Delivery.created_at >= since,
    )
    if until is not None:
        stmt = stmt.where(Delivery.created_at < until)
    failed = session.scalars(stmt.order_by(Delivery.id))
    # Events already delivered (or on their way) again, by an earlier redelivery, are left alone.
    seen = set(
        session.scalars(
            select(Delivery.event_id).where(Delivery.webhook_id == webhook_id, Delivery.status != DeliveryStatus.FAILED)
        )
    )
    now = utcnow()
    copies = []
    for original in failed:
        if original.event_id not in seen:
            seen.add(original.event_id)
            copies.append(_again(session, original, now))
    session.flush()
    if copies:
        channels.EVENTS.notify(session)
    return copies


def prune_attempts(session: Session, *, older_than: datetime) -> int:
    """Delete attempt logs older than the retention (deliveries themselves stay)."""
    result = session.execute(
        delete(DeliveryAttempt)
        .where(DeliveryAttempt.started_at < older_than)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
