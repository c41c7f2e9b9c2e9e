"""The delivery queue's state for `/metrics`, read at scrape time (core.telemetry explains why not in memory).

Read outside any transaction, like `/healthz`: on SQLite every transaction begins IMMEDIATE (takes the write
lock), so a scrape inside one would queue behind an analysis storing its results and time out. Three statements,
each answered from an index: `ix_webhook_deliveries_due` (status, next_attempt_at) for the pending and due
deliveries and the oldest due one (joined to the endpoints, which are few), and a count of the endpoints.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table

from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import Database, bind_values
from gitproductivity.webhooks.models import Delivery, DeliveryStatus

_PENDING = (
    "SELECT count(*) FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id"
    " WHERE d.status = {p} AND w.enabled = {true}"
)
_DUE = (
    "SELECT count(*), min(d.next_attempt_at) FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id"
    " WHERE d.status = {p} AND d.next_attempt_at <= {p} AND w.enabled = {true}"
)
_DISABLED = "SELECT count(*) FROM webhooks WHERE enabled = {false}"


def read(database: Database) -> dict[str, float]:
    """The gauges `core.telemetry.STATE_GAUGES` names, from the database now."""
    dialect = database.engine.dialect
    sqlite = dialect.name == "sqlite"
    p, true, false = ("?", "1", "0") if sqlite else ("%s", "true", "false")
    now = utcnow()
    stored_now = bind_values(dialect, cast(Table, Delivery.__table__), ["next_attempt_at"], [[now]])[0][0]
    raw = database.engine.raw_connection()
    try:
        cursor: Any = raw.cursor()
        try:
            cursor.execute(_PENDING.format(p=p, true=true), (str(DeliveryStatus.PENDING),))
            pending = cursor.fetchone()[0]
            cursor.execute(_DUE.format(p=p, true=true), (str(DeliveryStatus.PENDING), stored_now))
            due, oldest = cursor.fetchone()
            cursor.execute(_DISABLED.format(false=false))
            disabled = cursor.fetchone()[0]
        finally:
            cursor.close()
        raw.rollback()  # PostgreSQL: end the read's implicit transaction before the connection goes back
    finally:
        raw.close()
    return {
        "gitproductivity_webhook_deliveries_due": float(due),
        "gitproductivity_webhook_deliveries_pending": float(pending),
        "gitproductivity_webhook_oldest_due_age_seconds": _age(oldest, now),
        "gitproductivity_webhook_endpoints_disabled": float(disabled),
    }


def _age(oldest: datetime | str | None, now: datetime) -> float:
    if oldest is None:
        return 0.0
    if isinstance(oldest, str):  # SQLite stores naive UTC text
        oldest = datetime.fromisoformat(oldest)
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return max(0.0, (now - oldest).total_seconds())
