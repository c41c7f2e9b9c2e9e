"""Ordered delivery: an endpoint's `ordering` ("per_repository", "per_developer" or "none") and the claim's rule.

Fan-out (`webhooks.fanout`) stores on each delivery of an ordered endpoint its *key*, the event's
`data.repository_id` or `data.developer_id` (`order_key`; an event without that field gets none and is
unordered), and its *position*: `order_seq` then `id`. On PostgreSQL `order_seq` is the writing transaction's id
(the column's default, `pg_current_xact_id()`), as the feed's `txid`; on SQLite, whose transactions run one at a
time, the fan-out's wall clock in nanoseconds (taken while the transaction holds the write lock). Inside one
transaction the delivery ids grow in the order the events were written. So a key's positions follow the feed.

The claim (`claimable`, in `webhooks.queue.claim`, `webhooks.queue.next_due` and `webhooks.pacing.claim_paced`)
takes a keyed delivery only when no delivery of the same endpoint and key with an earlier position is still
pending (due, leased and in flight, or waiting for a retry): each key has one delivery in flight at a time, in
feed order. A head that fails holds its own key only; once it succeeds or fails for good, the next one is due.
On PostgreSQL a keyed delivery is taken only once its transaction is *settled* (every transaction that got its id
earlier has ended: `events.service.SETTLED_HORIZON`), so an earlier event of the key that commits late cannot
arrive after a later one was sent. Unordered deliveries (`order_key IS NULL`) never evaluate the rest of the test.

Held deliveries are *parked* outside the due range (`next_attempt_at` NULL, status still pending), so a claim, whose
scan walks the due range, never meets them: its cost follows the number of keys with a due head, not the number of
held rows. Fan-out parks a new delivery that has an earlier pending one of its key (`park`); the transaction that
records the final outcome of a keyed delivery makes its key's new head due (`release`), so a worker dying
mid-delivery loses nothing: the head's lease runs out, it is sent again, and its final outcome releases the next.
The claim's test above stays: it is what keeps the order, parking only keeps held rows out of the claim's way. On
PostgreSQL both steps take a transaction-scoped advisory lock per (endpoint, key) (`lock`), so a fan-out that parks
behind a head and the recording of that head's outcome cannot pass each other unseen.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, and_, bindparam, exists, func, literal_column, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, aliased

from gitproductivity.core.errors import ValidationFailed
from gitproductivity.events.service import SETTLED_HORIZON
from gitproductivity.webhooks.models import Delivery, DeliveryStatus

NONE = "none"
#: An ordering and the envelope field (under `data`) that keys it.
KEYS = {"per_repository": "repository_id", "per_developer": "developer_id"}
ORDERINGS = (NONE, *KEYS)
#: A key longer than this is cut (two keys cut alike are ordered together: stricter, never looser).
MAX_KEY_LENGTH = 100

DESCRIPTION = (
    '"per_repository" or "per_developer": the events of one repository (`data.repository_id`) or one developer '
    "(`data.developer_id`) reach this endpoint one at a time, in feed order; a failing delivery holds back only "
    'the later ones of its key. Events without that field, and "none" (the default), are not ordered'
)


def check(value: Any) -> str:
    if value is None:
        return NONE
    if value not in ORDERINGS:
        message = 'one of "per_repository", "per_developer" or "none"'
        raise ValidationFailed(f"ordering: {message}", details=[{"field": "ordering", "message": message}])
    return str(value)


def key_of(ordering: str | None, envelope: dict[str, Any]) -> str | None:
    """The delivery's key under `ordering`, from an event's envelope; None: not ordered."""
    field = KEYS.get(ordering or NONE)
    if field is None:
        return None
    data = envelope.get("data") if isinstance(envelope, dict) else None
    value = data.get(field) if isinstance(data, dict) else None
    if value is None or isinstance(value, dict | list) or value == "":
        return None
    return str(value)[:MAX_KEY_LENGTH]


#: First key of the two-key advisory lock per (endpoint, key) (analysis: 0x6770 emit, 0x6771 prune).
_KEY_LOCK = 0x6772
_PARK_CHUNK = 500


def _pending_keyed(row: Any) -> list[Any]:
    """`row` is pending and keyed: literals, not parameters, and spelled as the partial index's condition (a
    planner uses a partial index only where the query's own text implies its condition)."""
    return [row.status == literal_column(f"'{DeliveryStatus.PENDING.value}'"), row.order_key.is_not(None)]


def _earlier_pending(*, postgresql: bool) -> Any:
    """EXISTS a pending delivery of the same endpoint and key as `Delivery`, at an earlier position.

    PostgreSQL seeks the index on the row comparison `(order_seq, id) < (...)` itself. SQLite uses only its first
    column as the range, then filters: every delivery of one fan-out shares `order_seq` (an analysis writes
    thousands of one key in one transaction), so a head's test read all of them, on every claim. There it is two
    tests that each seek: an earlier `order_seq`, or the same one and an earlier `id`."""
    if postgresql:
        earlier = aliased(Delivery, name="earlier")
        return exists(
            select(earlier.id).where(
                earlier.webhook_id == Delivery.webhook_id,
                earlier.order_key == Delivery.order_key,
                *_pending_keyed(earlier),
                tuple_(earlier.order_seq, earlier.id) < tuple_(Delivery.order_seq, Delivery.id),
            )
        )
    before, same = aliased(Delivery, name="earlier"), aliased(Delivery, name="same_seq")
    return or_(
        exists(
            select(before.id).where(
                before.webhook_id == Delivery.webhook_id,
                before.order_key == Delivery.order_key,
                *_pending_keyed(before),
                before.order_seq < Delivery.order_seq,
            )
        ),
        exists(
            select(same.id).where(
                same.webhook_id == Delivery.webhook_id,
                same.order_key == Delivery.order_key,
                *_pending_keyed(same),
                same.order_seq == Delivery.order_seq,
                same.id < Delivery.id,
            )
        ),
    )


def lock(session: Session, keys: Iterable[tuple[str, str]]) -> None:
    """PostgreSQL: hold each (endpoint, key)'s advisory lock until the transaction ends, taken in one order (so two
    transactions never wait for each other's). `park` and `release` take it first: a fan-out parking behind a head
    whose outcome is being recorded waits for that transaction, then sees the head finished, and a recording waits
    for a fan-out that parked, then releases what it parked. SQLite: nothing (one writer at a time)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    ids = sorted({zlib.crc32(f"{hook}\0{key}".encode()) - 2**31 for hook, key in keys})
    if ids:
        session.execute(_LOCK_STATEMENT, {"namespace": _KEY_LOCK, "ids": ids}).all()  # in the array's order


_LOCK_STATEMENT = select(
    func.pg_advisory_xact_lock(bindparam("namespace", type_=Integer), literal_column("k"))
).select_from(func.unnest(bindparam("ids", type_=ARRAY(Integer))).alias("k"))


def park(session: Session, *, keys: Iterable[tuple[str, str]], ids: Sequence[str]) -> None:
    """Take these new keyed deliveries out of the due range (`next_attempt_at` NULL) when an earlier delivery of
    their key is still pending: the claim never meets them until `release` makes one the head. In the fan-out's
    transaction, after its insert."""
    if not ids:
        return
    lock(session, keys)
    for start in range(0, len(ids), _PARK_CHUNK):
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids[start : start + _PARK_CHUNK]), Delivery.order_key.is_not(None))
            .where(_earlier_pending(postgresql=session.get_bind().dialect.name == "postgresql"))
            .values(next_attempt_at=None)
            .execution_options(synchronize_session=False)
        )


def release(session: Session, *, keys: Iterable[tuple[str, str]], now: datetime) -> int:
    """Make the head of each (endpoint, key) due now if it is parked: in the transaction that records the final
    outcome (succeeded, or failed for good) of a delivery of that key. One index probe per key. Returns how many
    were released."""
    todo = sorted(set(keys))
    if not todo:
        return 0
    lock(session, todo)
    head = aliased(Delivery, name="head")
    released = 0
    for hook, key in todo:
        first = (
            select(head.id)
            .where(head.webhook_id == hook, head.order_key == key, *_pending_keyed(head))
            .order_by(head.order_seq, head.id)
            .limit(1)
            .scalar_subquery()
        )
        done = session.execute(
            update(Delivery)
            .where(Delivery.id == first, Delivery.next_attempt_at.is_(None))
            .values(next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
        released += int(done.rowcount or 0)  # type: ignore[attr-defined]
    return released


def claimable(*, postgresql: bool) -> Any:
    """The claim's test for a delivery (`Delivery`): unordered, or the pending head of its endpoint and key."""
    no_earlier = ~_earlier_pending(postgresql=postgresql)
    if postgresql:
        settled = Delivery.order_seq < literal_column(SETTLED_HORIZON, BigInteger)
        return or_(Delivery.order_key.is_(None), and_(settled, no_earlier))
    return or_(Delivery.order_key.is_(None), no_earlier)
