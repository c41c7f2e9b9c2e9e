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
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, and_, exists, literal_column, or_, select, tuple_
from sqlalchemy.orm import aliased

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


def claimable(*, postgresql: bool) -> Any:
    """The claim's test for a delivery (`Delivery`): unordered, or the pending head of its endpoint and key."""
    earlier = aliased(Delivery, name="earlier")
    no_earlier = ~exists(
        select(earlier.id).where(
            earlier.webhook_id == Delivery.webhook_id,
            earlier.order_key == Delivery.order_key,
            # Literals, not parameters, and spelled as the partial index's condition: a planner uses a partial
            # index only where the query's own text implies its condition (a generic plan cannot see a value).
            earlier.status == literal_column(f"'{DeliveryStatus.PENDING.value}'"),
            earlier.order_key.is_not(None),
            tuple_(earlier.order_seq, earlier.id) < tuple_(Delivery.order_seq, Delivery.id),
        )
    )
    if postgresql:
        settled = Delivery.order_seq < literal_column(SETTLED_HORIZON, BigInteger)
        return or_(Delivery.order_key.is_(None), and_(settled, no_earlier))
    return or_(Delivery.order_key.is_(None), no_earlier)
