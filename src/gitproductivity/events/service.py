"""The outbox: `emit` writes an event in the caller's transaction; the feed lists them in commit order.

Ordering: consumers page the feed with `after=<last id seen>`, so an event must never become visible at a
position before one already served. The feed's order is (`txid`, `seq`): the writing transaction's id, then the
order of writing inside it (the events of one transaction are contiguous in the feed).

- SQLite has one writer at a time, so `seq` order is commit order; `txid` is always 0 and every committed event
  is served.
- PostgreSQL lets event-writing transactions commit in parallel (no lock): a transaction that drew its `seq`
  or its xid first may commit last. Readers therefore serve only *settled* events, those whose `txid` is below
  the horizon of the reading statement's snapshot (`_HORIZON`): the smallest id still in flight in this
  database (`pg_snapshot_xmin(pg_current_snapshot())`, less the transactions `pg_stat_activity` places in other
  databases). Every transaction of this database with a smaller id has committed or aborted (and what committed
  is in that snapshot), and every transaction that starts later gets a larger id. The settled part of the feed
  therefore only grows at its end, so a cursor (the (txid, seq) of the `after` event, looked up each time) never
  skips or repeats. The price: an event is served only once every transaction of the database that got its id
  before it has ended (docs/scaling.md). The reader's own transaction, if it has written, is one of them, so
  it never serves its own events; an aborted transaction leaves only an unused id.
- `wait` answers True only when a settled event is there: a committed event that a transaction still in flight
  holds back wakes the waiter (NOTIFY), which finds nothing servable and waits again, checking every
  `WAIT_POLL_INTERVAL` (the transaction holding it back may write no event and so notify nobody).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import BigInteger, ColumnElement, Select, Table, bindparam, func, insert, literal_column, select, tuple_
from sqlalchemy.orm import Session
from sqlalchemy.orm.instrumentation import manager_of_class

from gitproductivity.core import channels
from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import bulk_insert, get_database, get_owned
from gitproductivity.core.errors import NotFound, ValidationFailed
from gitproductivity.core.ids import new_id
from gitproductivity.core.prepared import Prepared
from gitproductivity.core.settings import get_settings
from gitproductivity.events.envelope import render
from gitproductivity.events.models import Event
from gitproductivity.events.payloads import EVENT_PAYLOADS, EventData
from gitproductivity.events.types import EVENT_TYPES, WEBHOOK_TEST

#: How often a long-poll looks at the database when no in-process wake-up came (events committed by another
#: process: a CLI command, another API server on the same PostgreSQL).
WAIT_POLL_INTERVAL = 1.0
_stopping = threading.Event()

#: Called with (session, events) inside `emit` and `emit_many`, in the events' own transaction: one event from
#: `emit`, a whole batch in `seq` order from `emit_many` (so a subscriber can write for all of them at once).
Subscriber = Callable[[Session, Sequence[Event]], Any]
_subscribers: list[Subscriber] = []
_EVENTS = cast(Table, Event.__table__)
_COLUMNS = ("id", "organization_id", "type", "created_at", "payload")  # seq and txid: the database's
_INSERT_EVENT = Prepared(insert(_EVENTS).inline(), keys=_COLUMNS)  # inline: no RETURNING of `seq`
_NOTIFY = func.pg_notify(channels.EVENTS.name, "")
#: Read in the statement that inserts `emit`'s event, on PostgreSQL (`read_along`), by name.
_read_along: dict[str, ColumnElement[Any]] = {}
_READ_ALONG = "events_read_along"


def read_along(name: str, column: ColumnElement[Any]) -> None:
    """Have `emit` read `column` in the statement that inserts its event, on PostgreSQL (one round trip less for a
    subscriber that reads something for every event: webhooks' fan-out, its organisation's endpoints). `column`
    is a scalar expression over the inserted `events` row (a subquery correlated on `events.organization_id`,
    say); while the subscribers run for that event, `read_along_values(session, event)[name]` is its value.
    Registering a name again replaces its column."""
    _read_along[name] = column
    _insert_event_returning.cache_clear()


def read_along_values(session: Session, event: Event) -> dict[str, Any] | None:
    """What `emit` read along with inserting `event` (`read_along`), by name; None when nothing was read for it
    (SQLite, `emit_many`, or outside its subscribers): the subscriber reads for itself."""
    found = session.info.get(_READ_ALONG)
    return found[1] if found is not None and found[0] == event.id else None


@functools.cache
def _insert_event_returning(notifying: bool) -> Prepared:
    """`emit`'s insert on PostgreSQL: the NOTIFY (the transaction's first event) and what subscribers read along
    in its RETURNING. Built once per shape."""
    columns = [_NOTIFY.label("notified")] if notifying else []
    columns += [column.label(f"read_{i}") for i, column in enumerate(_read_along.values())]
    return Prepared(insert(_EVENTS).inline().returning(*columns), keys=_COLUMNS) if columns else _INSERT_EVENT


def subscribe(subscriber: Subscriber) -> None:
    """Register a subscriber (at start-up: `gitproductivity.startup.install`). Registering twice is once.

    Subscribers run in the event's transaction, so what they write (webhooks: one delivery per endpoint)
    commits with the event or not at all: the outbox guarantee holds without `events` knowing who listens.
    """
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)


def emit(session: Session, *, organization_id: str, data: EventData) -> Event:
    """Record an event in the current transaction with one delivery per subscribed, enabled webhook.

    The type is the payload model's (`events.payloads`); the model validated the payload when it was built.
    """
    _check_payload(data)
    event = _new_event(organization_id, data)
    # A Core insert on the session's connection (no flush, no ORM bookkeeping): the returned event is not in the
    # session, like `emit_many`'s, and its `seq` is not loaded (nothing after `emit` needs it). On PostgreSQL the
    # transaction's first event carries the NOTIFY in its RETURNING (one round trip less than `notify`), and
    # every event what its subscribers read along (`read_along`: webhooks' endpoints, one round trip less again).
    _flush_for_subscribers(session)
    values = {name: getattr(event, name) for name in _COLUMNS}
    if session.get_bind().dialect.name != "postgresql":
        _INSERT_EVENT.run(session, values)
    else:
        notifying = channels.EVENTS.claim(session)
        rows = _insert_event_returning(notifying).rows(session, values)
        row = rows[0] if rows else None
        if row is not None and _read_along:
            session.info[_READ_ALONG] = (event.id, dict(zip(_read_along, row[int(notifying) :], strict=True)))
    try:
        for subscriber in _subscribers:
            subscriber(session, [event])
    finally:
        session.info.pop(_READ_ALONG, None)
    channels.EVENTS.notify(session)
    return event


def emit_many(session: Session, *, organization_id: str, data: Sequence[EventData]) -> list[Event]:
    """`emit` for a batch, with the same guarantees: the events are in the feed in the order given, next to each
    other (one transaction), each with its deliveries (the subscribers get the whole batch at once).

    What differs is the cost: the events are written with one bulk insert (`COPY` on PostgreSQL) and each
    subscriber runs once, so an analysis that finds hundreds of new authors writes their
    events in a few statements instead of a few per event. The returned events are not in the session (their
    `seq` is not loaded); read them back through the feed when it is needed.
    """
    for item in data:
        _check_payload(item)
    if not data:
        return []
    events = [_new_event(organization_id, item) for item in data]
    _flush_for_subscribers(session)
    bulk_insert(session, _EVENTS, [{name: getattr(event, name) for name in _COLUMNS} for event in events])
    for subscriber in _subscribers:
        subscriber(session, events)
    channels.EVENTS.notify(session)
    return events


def _flush_for_subscribers(session: Session) -> None:
    """Flush this session's pending changes (unless autoflush is off), as a query through the session would:
    subscribers read with Core statements on the connection, and on PostgreSQL with the event's insert itself
    (`read_along`), and must see what this transaction changed (an endpoint just disabled, say)."""
    if session.autoflush:
        session.flush()


def _check_payload(data: EventData) -> None:
    if not isinstance(data, EventData) or EVENT_PAYLOADS.get(getattr(data, "event_type", "")) is not type(data):
        raise TypeError(f"emit takes an event payload model from events.payloads, not {type(data).__name__}")
    if not _subscribers:
        # A process that emits without its subscribers would commit events that no endpoint ever receives.
        raise RuntimeError("no event subscribers: call gitproductivity.startup.install() before emitting")


#: Makes an `Event` without running its constructor (the ORM's instrumented `__init__` set each attribute through
#: its event hooks: 13-16 us an event, against 3): the new event is never added to a session, its values are
#: simply there to read, as on an object loaded from a row.
_NEW_EVENT = manager_of_class(Event).new_instance


def _new_event(organization_id: str, data: EventData) -> Event:
    created = utcnow()
    event_id = new_id("evt")
    event: Event = _NEW_EVENT()
    event.__dict__.update(
        id=event_id,
        organization_id=organization_id,
        type=data.event_type,
        created_at=created,
        payload=render(event_id, data.event_type, created, data.model_dump(mode="json")),
    )
    return event


def envelope(event: Event) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(event.payload)
    return result


def get(session: Session, *, organization_id: str, event_id: str) -> Event:
    return get_owned(session, Event, organization_id=organization_id, id=event_id, what="event")


def list_(
    session: Session,
    *,
    organization_id: str,
    after: str | None = None,
    types: Sequence[str] = (),
    limit: int = 100,
) -> list[Event]:
    """Settled events in commit order, strictly after the event `after` (a cursor a consumer saved)."""
    _check_types(types)
    stmt = _settled(session, types).where(Event.organization_id == organization_id)
    if after:
        position = session.execute(
            select(Event.txid, Event.seq).where(Event.id == after, Event.organization_id == organization_id)
        ).first()
        if position is None:
            raise NotFound(f"cursor event {after} not found")
        stmt = stmt.where(tuple_(Event.txid, Event.seq) > tuple_(position.txid, position.seq))
    return list(session.scalars(stmt.order_by(Event.txid, Event.seq).limit(limit)))


def list_envelopes(
    session: Session,
    *,
    organization_id: str,
    after: str | None = None,
    types: Sequence[str] = (),
    limit: int = 100,
) -> list[tuple[str, str]]:
    """`list_` as (id, envelope JSON) pairs: the feed's page, from statements built once (`_statement`) and
    without ORM objects (the same rows, the same order)."""
    return [(row[0], row[1]) for row in _page(session, organization_id, after, types, limit)]


def _page(session: Session, organization_id: str, after: str | None, types: Sequence[str], limit: int) -> list[Any]:
    _check_types(types)
    connection = session.connection()
    params: dict[str, Any] = {"organization_id": organization_id, "limit": limit, "types": list(types)}
    if after:
        position = connection.execute(_POSITION, {"id": after, "organization_id": organization_id}).first()
        if position is None:
            raise NotFound(f"cursor event {after} not found")
        params["txid"], params["seq"] = position
    return list(connection.execute(_statement(connection.dialect.name, bool(types), bool(after)), params))


_POSITION = select(_EVENTS.c.txid, _EVENTS.c.seq).where(
    _EVENTS.c.id == bindparam("id"), _EVENTS.c.organization_id == bindparam("organization_id")
)


@functools.cache
def _statement(dialect: str, typed: bool, after: bool) -> Select[Any]:
    """The feed's page statement (id and envelope), built once per shape; values are bound per request."""
    stmt = _settled_where(select(_EVENTS.c.id, _EVENTS.c.payload), dialect, _EVENTS.c.txid)
    stmt = stmt.where(_EVENTS.c.organization_id == bindparam("organization_id"))
    if typed:
        stmt = stmt.where(_EVENTS.c.type.in_(bindparam("types", expanding=True)))
    if after:
        stmt = stmt.where(
            tuple_(_EVENTS.c.txid, _EVENTS.c.seq) > tuple_(bindparam("txid", type_=BigInteger), bindparam("seq"))
        )
    return stmt.order_by(_EVENTS.c.txid, _EVENTS.c.seq).limit(bindparam("limit"))


def latest(session: Session, *, organization_id: str, limit: int, types: Sequence[str] = ()) -> list[Event]:
    """The newest `limit` settled events, oldest first (for people looking at what just happened, and a cursor
    to follow from: an event not yet settled could have unsettled events before it)."""
    _check_types(types)
    stmt = _settled(session, types).where(Event.organization_id == organization_id)
    return list(reversed(list(session.scalars(stmt.order_by(Event.txid.desc(), Event.seq.desc()).limit(limit)))))


#: The settled horizon of the statement's snapshot (module docstring): the smallest id of a transaction that may
#: still write events here, the reader's own included. Transactions of *other databases* of the server cannot,
#: so they are left out when `pg_stat_activity` shows which database an id belongs to (it shows other roles'
#: sessions only to members of pg_read_all_stats; an id it does not place counts as ours, so the horizon is then
#: `pg_snapshot_xmin`). A backend never changes database, so a placement, once seen, stays true. Ids are
#: compared modulo 2^32 there (`backend_xid` is a 32-bit xid; the ids in flight are within 2^31 of each other).
_HORIZON = """(SELECT least(
    pg_snapshot_xmax(s)::text::bigint,
    (SELECT min(x::text::bigint) FROM pg_snapshot_xip(s) AS x
     WHERE x::text::bigint % 4294967296 NOT IN (
         SELECT backend_xid::text::bigint FROM pg_stat_activity
         WHERE backend_xid IS NOT NULL AND datname IS DISTINCT FROM current_database())),
    pg_current_xact_id_if_assigned()::text::bigint)
  FROM pg_current_snapshot() AS s)"""


#: The horizon's SQL, for other readers that must not get ahead of a transaction still in flight (the ordered
#: webhook deliveries: `webhooks.ordering`).
SETTLED_HORIZON = _HORIZON


def _settled(session: Session, types: Sequence[str]) -> Select[Event]:
    """Events every reader may serve (module docstring), of these types (all if none)."""
    stmt = _settled_where(select(Event), session.get_bind().dialect.name, Event.txid)
    if types:
        stmt = stmt.where(Event.type.in_(list(types)))
    return stmt


SelectT = TypeVar("SelectT", bound=Select[Any])


def _settled_where(stmt: SelectT, dialect: str, txid: Any) -> SelectT:
    if dialect == "postgresql":
        # A scalar subquery: evaluated once per statement, with the statement's own snapshot, and usable as an
        # index bound on (organization_id, txid, seq).
        stmt = stmt.where(txid < literal_column(_HORIZON, BigInteger))
    return stmt


def _check_types(types: Sequence[str]) -> None:
    unknown = [t for t in types if t not in EVENT_TYPES and t != WEBHOOK_TEST]
    if unknown:
        raise ValidationFailed(
            f"unknown event type(s): {', '.join(unknown)}",
            details=[{"field": "type", "message": f"must be one of {', '.join(EVENT_TYPES)}"}],
        )


async def wait(
    *,
    organization_id: str,
    after: str | None,
    types: Sequence[str] = (),
    timeout: float,
    poll_interval: float | None = None,
) -> bool:
    """Return as soon as a settled event after `after` exists (True: `list_` now serves it), or after `timeout`
    seconds (False).

    `timeout` is capped by the `long_poll_max_wait` setting.
    Woken at once by commits in this process (`core.channels.EVENTS`), and checks the database every `poll_interval`
    for commits made elsewhere. Each check is its own short transaction: nothing is held open while waiting
    (on SQLite every transaction takes the write lock).
    """

    def exists() -> bool:
        with get_database().session() as session:
            return bool(list_(session, organization_id=organization_id, after=after, types=types, limit=1))

    interval = WAIT_POLL_INTERVAL if poll_interval is None else poll_interval
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(timeout, get_settings().long_poll_max_wait)
    woken = channels.EVENTS.subscribe()
    try:
        while True:
            woken.clear()  # before looking, so a commit between the look and the wait still wakes us
            if await asyncio.to_thread(exists):
                return True
            remaining = deadline - loop.time()
            if remaining <= 0 or _stopping.is_set():
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), min(remaining, interval))
    finally:
        channels.EVENTS.unsubscribe(woken)


def stop_waiting() -> None:
    """Answer every long-poll now: a server shutting down waits for open requests, and a waiting client reconnects."""
    _stopping.set()
    channels.EVENTS.fire()
