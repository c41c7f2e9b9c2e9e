"""0017_attempt_body_reference: attempts logged before it keep their copy of the body and are served as before;
attempts logged after it store none and are served the delivery's payload (the event's, or a test delivery's own);
going down writes that payload into every attempt without a body, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import text

from gitproductivity.core import migrate
from gitproductivity.core.db import Database
from gitproductivity.webhooks import deliveries
from gitproductivity.webhooks.schemas import DeliveryDetail
from tests.core.test_migrations import empty_database_url, old_tenant, put, upgrade_to

__all__ = ["empty_database_url"]  # the fixture, shared with test_migrations.py

BEFORE = "0016_ordered_heads"
REVISION = "0017_attempt_body_reference"
EVENT_BODY = '{"id":"evt_1","type":"developer.added","data":{"name":"Jane"}}'
TEST_BODY = '{"id":"evt_test","type":"webhook.test","data":{"test":true}}'


def _old_log(db: Database) -> str:
    """An endpoint, an event, its delivery with one attempt (a copy of the body, as before 0017), and a test
    delivery carrying its own payload; returns the organisation's id."""
    org = old_tenant(db)
    at = datetime(2026, 1, 2, tzinfo=UTC)
    put(db, "webhooks", id="wh_1", organization_id=org, url="https://example.com/h", description="", events=["*"],
        secret="whsec_x", enabled=True, updated_at=at)  # fmt: skip
    put(db, "events", id="evt_1", organization_id=org, type="developer.added", payload=EVENT_BODY)
    for dlv, event, payload in (("dlv_1", "evt_1", None), ("dlv_test", "evt_test", TEST_BODY)):
        put(db, "webhook_deliveries", id=dlv, organization_id=org, webhook_id="wh_1", event_id=event,
            event_type="developer.added", payload=payload, is_test=payload is not None, status="pending",
            attempts=1)  # fmt: skip
    _attempt(db, "att_old", "dlv_1", 1, body=EVENT_BODY)
    return org


def _attempt(db: Database, att: str, dlv: str, number: int, *, body: str | None) -> None:
    put(db, "webhook_delivery_attempts", id=att, delivery_id=dlv, number=number,
        started_at=datetime(2026, 1, 2, tzinfo=UTC), duration_ms=1.5, request_headers={"webhook-id": "evt_1"},
        request_body=body, response_status=500, error_kind="http_status", error="HTTP 500")  # fmt: skip


def _served(db: Database, org: str, dlv: str) -> list[str]:
    with db.session() as session:
        delivery = deliveries.get(session, organization_id=org, delivery_id=dlv)
        return [a.request_body for a in DeliveryDetail.model_validate(delivery).attempt_log]


def _stored(db: Database) -> dict[str, str | None]:
    with db.engine.connect() as conn:
        return dict(conn.execute(text("SELECT id, request_body FROM webhook_delivery_attempts")).all())


def test_old_copies_are_kept_and_new_attempts_are_served_the_payload_they_sent(empty_database_url: str) -> None:
    db = Database(empty_database_url, pool_size=1)
    try:
        upgrade_to(db, BEFORE)
        org = _old_log(db)

        upgrade_to(db, REVISION)

        assert _stored(db) == {"att_old": EVENT_BODY}  # not rewritten
        _attempt(db, "att_new", "dlv_1", 2, body=None)  # as the dispatcher writes them now
        _attempt(db, "att_test", "dlv_test", 1, body=None)
        assert _served(db, org, "dlv_1") == [EVENT_BODY, EVENT_BODY]
        assert _served(db, org, "dlv_test") == [TEST_BODY]

        cfg = migrate.alembic_config()
        with db.engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.downgrade(cfg, BEFORE)
        assert _stored(db) == {"att_old": EVENT_BODY, "att_new": EVENT_BODY, "att_test": TEST_BODY}

        migrate.upgrade(db.engine)
        assert migrate.current_heads(db.engine) == set(migrate.script_heads())
        assert _served(db, org, "dlv_1") == [EVENT_BODY, EVENT_BODY]
    finally:
        db.dispose()
