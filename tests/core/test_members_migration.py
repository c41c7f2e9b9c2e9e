"""0013_members: existing users become active owners, existing API keys owner keys of that user, and a notice read
before the revision stays read for every member of its organisation (read state is per reader from then on)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from gitproductivity.core import migrate
from gitproductivity.core.db import Database
from tests.core.test_migrations import empty_database_url, old_tenant, put, upgrade_to

__all__ = ["empty_database_url"]  # the fixture, shared with test_migrations.py


def test_users_become_owners_keys_get_owner_and_read_notices_stay_read(empty_database_url: str) -> None:
    db = Database(empty_database_url, pool_size=1)
    try:
        upgrade_to(db, "0012_webhook_routing")
        org = old_tenant(db)
        other = old_tenant(db, email="other@example.org", org="org_other")
        with db.engine.begin() as conn:  # a role from before roles meant anything: still the organisation's owner
            conn.execute(text("UPDATE users SET role = 'member' WHERE organization_id = :o"), {"o": other})
        for key_id, owner in (("key_a", org), ("key_b", other)):
            put(db, "api_keys", id=key_id, organization_id=owner, name=key_id, prefix="gpk_x", key_hash=key_id * 8)
        when = datetime(2025, 5, 6, 7, 8, tzinfo=UTC)
        put(db, "notifications", id="ntf_1", organization_id=org, kind="k", subject="read", body="b", read_at=when)
        put(db, "notifications", id="ntf_2", organization_id=org, kind="k", subject="unread", body="b")

        migrate.upgrade(db.engine)

        with db.engine.connect() as conn:
            users = conn.execute(text("SELECT id, role, status, token_hash FROM users ORDER BY id")).all()
            keys = conn.execute(text("SELECT id, role, user_id FROM api_keys ORDER BY id")).all()
            reads = conn.execute(text("SELECT notification_id, reader_id FROM notification_reads")).all()
        assert [tuple(u) for u in users] == [
            (f"usr_{org}", "owner", "active", None),
            (f"usr_{other}", "owner", "active", None),
        ]
        assert [tuple(k) for k in keys] == [("key_a", "owner", f"usr_{org}"), ("key_b", "owner", f"usr_{other}")]
        assert [tuple(r) for r in reads] == [("ntf_1", f"usr_{org}")]
    finally:
        db.dispose()


def test_the_revision_goes_down_and_up_again(empty_database_url: str) -> None:
    db = Database(empty_database_url, pool_size=1)
    try:
        upgrade_to(db, "0013_members")
        org = old_tenant(db)
        put(db, "notifications", id="ntf_1", organization_id=org, kind="k", subject="s", body="b")
        put(db, "notification_reads", notification_id="ntf_1", reader_id=f"usr_{org}", read_at=datetime.now(UTC))
        cfg = migrate.alembic_config()
        from alembic import command

        with db.engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.downgrade(cfg, "0012_webhook_routing")
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT read_at IS NOT NULL FROM notifications")).scalar_one()
        migrate.upgrade(db.engine)
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT reader_id FROM notification_reads")).scalar_one() == f"usr_{org}"
    finally:
        db.dispose()
