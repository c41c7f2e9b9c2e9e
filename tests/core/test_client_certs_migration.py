"""0015_webhook_client_certs: existing endpoints keep everything and have no client certificate; the revision goes
down (dropping the two columns, the endpoints kept) and up again, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import inspect, text

from gitproductivity.core import migrate
from gitproductivity.core.db import Database
from tests.core.test_migrations import empty_database_url, old_tenant, put, upgrade_to

__all__ = ["empty_database_url"]  # the fixture, shared with test_migrations.py

BEFORE = "0014_change_categories"
REVISION = "0015_webhook_client_certs"


def _columns(db: Database) -> set[str]:
    with db.engine.connect() as conn:
        return {c["name"] for c in inspect(conn).get_columns("webhooks")}


def _old_endpoint(db: Database, org: str) -> None:
    now = datetime(2026, 1, 2, tzinfo=UTC)
    put(
        db,
        "webhooks",
        id="wh_old",
        organization_id=org,
        url="https://example.com/hook",
        description="kept",
        events=["*"],
        secret="whsec_old",
        enabled=True,
        updated_at=now,
        auth_type="bearer",
        auth_secret="fernet:old",
    )


def test_existing_endpoints_get_no_client_certificate(empty_database_url: str) -> None:
    db = Database(empty_database_url, pool_size=1)
    try:
        upgrade_to(db, BEFORE)
        _old_endpoint(db, old_tenant(db))
        assert not {"client_cert_secret", "client_cert_info"} & _columns(db)

        upgrade_to(db, REVISION)

        assert {"client_cert_secret", "client_cert_info"} <= _columns(db)
        with db.engine.connect() as conn:
            row = conn.execute(
                text("SELECT description, auth_secret, client_cert_secret, client_cert_info FROM webhooks")
            ).one()
        assert tuple(row) == ("kept", "fernet:old", None, None)
    finally:
        db.dispose()


def test_the_revision_goes_down_and_up_again(empty_database_url: str) -> None:
    db = Database(empty_database_url, pool_size=1)
    try:
        upgrade_to(db, REVISION)
        _old_endpoint(db, old_tenant(db))
        with db.engine.begin() as conn:
            conn.execute(
                text("UPDATE webhooks SET client_cert_secret = 'fernet:pair', client_cert_info = :info"),
                {"info": '{"subject": "CN=a", "issuer": "CN=b", "not_after": "2027-01-01T00:00:00Z", '
                 '"fingerprint_sha256": "ab"}'},
            )  # fmt: skip
        cfg = migrate.alembic_config()
        with db.engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.downgrade(cfg, BEFORE)
        assert not {"client_cert_secret", "client_cert_info"} & _columns(db)
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT description FROM webhooks")).scalar_one() == "kept"
        migrate.upgrade(db.engine)
        with db.engine.connect() as conn:
            row = conn.execute(text("SELECT description, client_cert_secret FROM webhooks")).one()
        assert tuple(row) == ("kept", None)
        assert migrate.current_heads(db.engine) == set(migrate.script_heads())
    finally:
        db.dispose()
