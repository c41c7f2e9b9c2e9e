"""Keeping the outbox bounded: finished deliveries and events older than `event_retention_days` are deleted.

Off by default (0 days): the event feed is a public contract, paged with `after=<event id>`, and a consumer
whose saved cursor has been deleted gets 404 and must start again from `newest=true`. Set the retention well
beyond the longest a consumer may fall behind. Attempt logs have their own, shorter retention
(`webhook_attempt_retention_days`, pruned by the dispatcher).

What goes, in chunks so that no transaction holds many rows:
- deliveries that are finished (succeeded or failed) and completed before the cutoff, with their attempt logs,
  except an endpoint's latest test delivery (the endpoint links to it);
- events created before the cutoff that no delivery refers to any more (a pending delivery keeps its event:
  the event's payload is the delivery's body).

Every worker process runs this component; on PostgreSQL an advisory lock lets one of them prune at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, select, text
from sqlalchemy.orm import Session

from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import Database, get_database
from gitproductivity.core.settings import get_settings
from gitproductivity.events.models import Event
from gitproductivity.webhooks.models import Delivery, DeliveryAttempt, DeliveryStatus, Webhook

log = logging.getLogger(__name__)

EVERY_SECONDS = 3600.0
CHUNK = 5000
_LOCK = (0x6771, 1)  # one pruner at a time on PostgreSQL (its own namespace: emit locks (0x6770, org hash))


@dataclass
class Pruned:
    deliveries: int = 0
    events: int = 0


def prune_chunk(session: Session, *, older_than: datetime, limit: int = CHUNK) -> Pruned | None:
    """Delete up to `limit` finished deliveries and `limit` unreferenced events older than the cutoff.

    None when another process holds the pruning lock (PostgreSQL).
    """
    if session.get_bind().dialect.name == "postgresql":
        got = session.scalar(text("SELECT pg_try_advisory_xact_lock(:a, :b)"), {"a": _LOCK[0], "b": _LOCK[1]})
        if not got:
            return None
    linked = select(Webhook.last_test_delivery_id).where(Webhook.last_test_delivery_id.is_not(None))
    ids = list(
        session.scalars(
            select(Delivery.id)
            .where(
                Delivery.status.in_([DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED]),
                Delivery.completed_at < older_than,
                Delivery.id.not_in(linked),
            )
            .order_by(Delivery.id)
            .limit(limit)
        )
    )
    if ids:
        session.execute(delete(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(ids)))
        session.execute(delete(Delivery).where(Delivery.id.in_(ids)))
    seqs = list(
        session.scalars(
            select(Event.seq)
            .where(Event.created_at < older_than, ~exists().where(Delivery.event_id == Event.id))
            .order_by(Event.seq)
            .limit(limit)
        )
    )
    if seqs:
        session.execute(delete(Event).where(Event.seq.in_(seqs)))
    return Pruned(deliveries=len(ids), events=len(seqs))


def prune(database: Database, *, older_than: datetime, limit: int = CHUNK) -> Pruned:
    """Prune chunk by chunk, one transaction each, until nothing older than the cutoff is left to delete."""
    total = Pruned()
    while True:
        with database.session() as session:
            done = prune_chunk(session, older_than=older_than, limit=limit)
        if done is None:
            return total
        total.deliveries += done.deliveries
        total.events += done.events
        if done.deliveries < limit and done.events < limit:
            return total


async def run(stop: asyncio.Event) -> None:
    """The worker component: prune once an hour while `event_retention_days` is set."""
    while not stop.is_set():
        days = get_settings().event_retention_days
        if days > 0:
            cutoff = utcnow() - timedelta(days=days)
            try:
                done = await asyncio.to_thread(prune, get_database(), older_than=cutoff)
            except Exception:
                log.exception("pruning old events and deliveries failed")
            else:
                if done.deliveries or done.events:
                    log.info("pruned %d deliveries and %d events older than %s", done.deliveries, done.events, cutoff)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=EVERY_SECONDS)
