"""0011_event_feed_txid: events written before it keep their order, and a cursor saved before it keeps working."""

from __future__ import annotations

import json

from sqlalchemy import text

from gitproductivity.core import migrate
from gitproductivity.core.db import Database
from gitproductivity.developers import service as developers
from gitproductivity.events import service as events
from tests.core.test_migrations import empty_database_url, old_tenant, put, upgrade_to

__all__ = ["empty_database_url"]  # the fixture, shared with test_migrations.py


def names(db: Database, org: str, after: str | None) -> list[str]:
    with db.session() as session:
        return [events.envelope(e)["data"]["name"] for e in events.list_(session, organization_id=org, after=after)]


def test_old_events_keep_their_order_and_old_cursors_keep_working(empty_database_url: str) -> None:
    db = Database(empty_database_url, pool_size=2)
    try:
        upgrade_to(db, "0010_email_canonical")
        org = old_tenant(db)
        # Events as emit wrote them then: one per transaction, seq drawn by the database in commit order.
        for n, name in enumerate(("Old1", "Old2", "Old3"), start=1):
            payload = json.dumps({"id": f"evt_0{n}", "type": "developer.created", "data": {"name": name}})
            put(db, "events", id=f"evt_0{n}", organization_id=org, type="developer.created", payload=payload)
        saved_cursor = "evt_01"

        migrate.upgrade(db.engine)

        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT DISTINCT txid FROM events")).scalars().all() == [0]
        assert names(db, org, None) == ["Old1", "Old2", "Old3"]
        assert names(db, org, saved_cursor) == ["Old2", "Old3"]
        with db.session() as session:
            developers.create(session, organization_id=org, name="New", email="new@example.com")
        assert names(db, org, saved_cursor) == ["Old2", "Old3", "New"]
        with db.engine.connect() as conn:
            new_txid = conn.execute(text("SELECT txid FROM events ORDER BY seq DESC LIMIT 1")).scalar_one()
        # PostgreSQL records the writing transaction; SQLite, with one writer at a time, needs no more than seq.
        assert new_txid > 0 if db.engine.dialect.name == "postgresql" else new_txid == 0
    finally:
        db.dispose()
