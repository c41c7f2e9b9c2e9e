"""0019_developer_counts: the upgrade fills each organisation's numbers from the developers there are (current and
all); the triggers count from then on; the downgrade drops the table, its triggers and functions, and developers
are written as before; upgrading again counts again. On both databases."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import inspect, text

from gitproductivity.core import migrate
from gitproductivity.core.db import Database
from tests.core.test_migrations import empty_database_url, old_developer, old_tenant, put, upgrade_to

__all__ = ["empty_database_url"]  # the fixture, shared with test_migrations.py

BEFORE = "0018_ownership_commits"
REVISION = "0019_developer_counts"


def _sums(db: Database) -> dict[str, tuple[int, int]]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT organization_id, sum(present), sum(total) FROM developer_counts GROUP BY organization_id")
        )
        return {org: (int(present), int(total)) for org, present, total in rows}


def _downgrade(db: Database) -> None:
    cfg = migrate.alembic_config()
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, BEFORE)


def test_the_upgrade_fills_the_counts_and_the_downgrade_drops_them(empty_database_url: str) -> None:
    db = Database(empty_database_url, pool_size=1)
    try:
        upgrade_to(db, BEFORE)
        org = old_tenant(db)
        empty = old_tenant(db, email="other@example.com", org="org_empty")
        for i in range(5):
            old_developer(db, org=org, dev_id=f"dev_{i}", name=f"D{i}", email=f"d{i}@example.com")
        with db.engine.begin() as conn:
            removal = text("UPDATE developers SET removed_at = :at WHERE id = 'dev_3'")
            conn.execute(removal, {"at": datetime(2026, 1, 2)})

        upgrade_to(db, REVISION)
        sums = _sums(db)
        assert sums[org] == (4, 5)
        assert sums.get(empty, (0, 0)) == (0, 0)
        old_developer(db, org=empty, dev_id="dev_new", name="New", email="new@example.com")
        assert _sums(db)[empty] == (1, 1)

        _downgrade(db)
        with db.engine.connect() as conn:
            assert "developer_counts" not in inspect(conn).get_table_names()
        old_developer(db, org=org, dev_id="dev_after", name="After", email="after@example.com")  # no trigger left
        put(db, "organizations", id="org_later", name="Later", created_at=datetime(2026, 1, 3, tzinfo=UTC))

        migrate.upgrade(db.engine)
        sums = _sums(db)
        assert sums[org] == (5, 6)
        assert sums[empty] == (1, 1)
        assert sums.get("org_later", (0, 0)) == (0, 0)
    finally:
        db.dispose()
