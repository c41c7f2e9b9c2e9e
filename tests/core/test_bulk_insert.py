"""`bulk_insert` (COPY on PostgreSQL, executemany on SQLite) stores exactly what a Core insert stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import Table, insert, select

from gitproductivity.core.db import Database, bulk_insert
from gitproductivity.events import service as events
from gitproductivity.events.payloads import DeveloperAdded
from gitproductivity.webhooks import endpoints
from gitproductivity.webhooks.models import Delivery, DeliveryAttempt
from tests.conftest import Tenant

ATTEMPTS = cast(Table, DeliveryAttempt.__table__)
TRICKY = 'tab\tnewline\nreturn\rbackslash\\N \\. quote\' "double" unicode ünïcödé ✓ emoji 🎉 comma, pipe|'


def _rows(delivery_id: str, numbers: range) -> list[dict[str, Any]]:
    start = datetime(2026, 11, 27, 1, 2, 3, 456789, tzinfo=UTC)
    return [
        {
            "id": f"att_test_{delivery_id[-6:]}_{n}",
            "delivery_id": delivery_id,
            "number": n,
            "started_at": start + timedelta(seconds=n),
            "duration_ms": 1.25 * n,
            "request_headers": {"X-Tricky": TRICKY, "n": str(n)},
            "request_body": TRICKY + '{"json": [1, 2.5, null]}',
            "response_status": None if n % 2 else 200,
            "response_headers": None if n % 3 == 0 else {"Server": TRICKY},
            "response_body": None if n % 2 else TRICKY,
            "error_kind": "timeout" if n % 2 else None,
            "error": TRICKY if n % 2 else None,
            "retry_after_seconds": None if n % 2 else 120.5,
            "next_retry_seconds": None if n % 3 == 0 else 60.0 * n,
        }
        for n in numbers
    ]


@pytest.mark.parametrize("count", [1, 300])
def test_bulk_insert_round_trips_like_a_core_insert(database: Database, tenant: Tenant, count: int) -> None:
    with database.session() as session:
        endpoints.create(session, organization_id=tenant.organization_id, url="https://example.com/hook", events=["*"])
        events.emit(session, organization_id=tenant.organization_id, data=DeveloperAdded.example)
    with database.session() as session:
        delivery_id = session.scalars(select(Delivery.id)).one()
        bulk_rows = _rows(delivery_id, range(1, count + 1))
        core_rows = [{**r, "id": r["id"] + "_core", "number": r["number"] + 10_000} for r in bulk_rows]
        bulk_insert(session, ATTEMPTS, bulk_rows)
        session.execute(insert(ATTEMPTS), core_rows)
    columns = [c.key for c in ATTEMPTS.c if c.key not in ("id", "number")]
    with database.session() as session:
        stored = {a.id: a for a in session.scalars(select(DeliveryAttempt))}
    assert len(stored) == 2 * count
    for row in bulk_rows:
        bulk, core = stored[row["id"]], stored[row["id"] + "_core"]
        for column in columns:
            assert getattr(bulk, column) == getattr(core, column) == row[column], column


def test_bulk_insert_of_nothing_is_a_no_op(database: Database) -> None:
    with database.session() as session:
        bulk_insert(session, ATTEMPTS, [])
        assert session.scalars(select(DeliveryAttempt)).all() == []
