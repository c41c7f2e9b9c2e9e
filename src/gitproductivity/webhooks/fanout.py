"""Fan-out: one pending delivery per enabled endpoint subscribed to an event's type and matching its filter.

An `events` subscriber (registered in `gitproductivity.startup`): it runs inside `emit`/`emit_many`, in the
events' own transaction, so an event exists with its deliveries or not at all.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, literal_column, select
from sqlalchemy.orm import Session

from gitproductivity.core import tracing
from gitproductivity.core.clock import utcnow
from gitproductivity.core.ids import new_id
from gitproductivity.core.prepared import Prepared
from gitproductivity.events import service as event_service
from gitproductivity.events.models import Event
from gitproductivity.events.types import OPERATIONAL_EVENT_TYPES, WEBHOOK_TEST
from gitproductivity.webhooks import filters, operational, ordering
from gitproductivity.webhooks.endpoints import subscribed
from gitproductivity.webhooks.models import Delivery, DeliveryStatus, Webhook

DELIVERIES = cast(Table, Delivery.__table__)

_EVENTS = cast(Table, Event.__table__)
_WEBHOOKS = cast(Table, Webhook.__table__)
#: Built once (an API request that emits one event paid as much to build it as to run it), run on the session's
#: driver connection (`core.prepared`: the ORM's execute path, then SQLAlchemy's, cost more than the query).
_ENABLED_HOOKS = Prepared(
    select(_WEBHOOKS.c.id, _WEBHOOKS.c.events, _WEBHOOKS.c.event_filter, _WEBHOOKS.c.ordering).where(
        _WEBHOOKS.c.organization_id == bindparam("organization_id"), _WEBHOOKS.c.enabled.is_(True)
    )
)
#: The same endpoints as one JSON array of `[id, events, event_filter, ordering]` (NULL when there are none), read
#: by `events.emit` in the statement that inserts the event on PostgreSQL (`events.read_along`, registered by
#: `startup.install`): one round trip less.
READ_ALONG = "webhooks"
ENABLED_HOOKS_JSON = (
    select(
        func.json_agg(
            func.json_build_array(_WEBHOOKS.c.id, _WEBHOOKS.c.events, _WEBHOOKS.c.event_filter, _WEBHOOKS.c.ordering)
        )
    )
    # The inserted row's column, spelled out: SQLAlchemy does not correlate a subquery in RETURNING with the
    # INSERT's table (it would add `events` to the subquery's FROM: every event of the table).
    .where(
        _WEBHOOKS.c.organization_id == literal_column(f"{_EVENTS.name}.organization_id"),
        _WEBHOOKS.c.enabled.is_(True),
    )
    .scalar_subquery()
)


def fan_out(session: Session, events: Sequence[Event]) -> int:
    """One pending delivery per enabled endpoint subscribed to each event's type and matching its filter, in the
    events' transaction.

    `events` is one event (`events.emit`) or a batch (`events.emit_many`): a batch's deliveries are written with
    one insert. The organisation's endpoints are read, and their filters compiled, once per transaction (an
    analysis may emit thousands of events); an event's envelope is parsed only when a filtered or ordered
    endpoint wants it. An ordered endpoint's delivery gets its key and position (`webhooks.ordering`).
    """
    cache: dict[str, list[tuple[str, list[str], filters.Predicate | None, str | None]]] = session.info.setdefault(
        "webhooks_by_org", {}
    )
    now = utcnow()
    # SQLite: the position's first part, taken while this transaction holds the write lock (PostgreSQL: the
    # column's default, the transaction's id). Set on every row, so the insert's rows have the same columns.
    sqlite_seq = time.time_ns() if session.get_bind().dialect.name == "sqlite" else None
    rows: list[dict[str, Any]] = []
    trace = tracing.mark("events.emit", {"events.count": len(events)}) if tracing.enabled() else None
    for event in events:
        if event.type == WEBHOOK_TEST:
            continue
        hooks = cache.get(event.organization_id)
        if hooks is None:
            read = event_service.read_along_values(session, event)
            found: Any = (
                read[READ_ALONG] or []  # NULL: no enabled endpoint
                if read is not None and READ_ALONG in read
                else _ENABLED_HOOKS.rows(session, {"organization_id": event.organization_id})
            )
            hooks = cache[event.organization_id] = [
                (r[0], list(r[1]), filters.compile_saved(r[2]), None if r[3] == ordering.NONE else r[3]) for r in found
            ]
        envelope: Any = None
        for hook_id, types, predicate, order in hooks:
            if not subscribed(types, event.type):
                continue
            if event.type in OPERATIONAL_EVENT_TYPES:  # never to the endpoint it is about (the loop rule)
                if envelope is None:
                    envelope = json.loads(event.payload)
                if operational.is_about(event.type, event.payload, hook_id, envelope):
                    continue
            if predicate is not None:
                if envelope is None:
                    envelope = json.loads(event.payload)
                if not predicate(envelope):
                    continue
            key = None
            if order is not None:
                if envelope is None:
                    envelope = json.loads(event.payload)
                key = ordering.key_of(order, envelope)
            row: dict[str, Any] = {
                "id": new_id("dlv"),
                "organization_id": event.organization_id,
                "webhook_id": hook_id,
                "event_id": event.id,
                "event_type": event.type,
                "is_test": False,
                "status": DeliveryStatus.PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "trace_context": trace,
                "order_key": key,
            }
            if sqlite_seq is not None:
                row["order_seq"] = sqlite_seq if key is not None else None
            rows.append(row)
    if rows:
        session.execute(insert(DELIVERIES), rows)  # Core insert: no ORM bookkeeping per row
        keyed = [row for row in rows if row["order_key"] is not None]
        if keyed:  # held behind an earlier one of their key: parked outside the due range (webhooks.ordering)
            ordering.park(
                session, keys=[(r["webhook_id"], r["order_key"]) for r in keyed], ids=[r["id"] for r in keyed]
            )
    return len(rows)
