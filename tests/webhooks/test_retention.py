"""Retention keeps the outbox bounded: old finished deliveries (with their attempts) and old events nothing refers
to are deleted; pending deliveries, their events, recent rows and an endpoint's latest test delivery stay."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from gitproductivity.core import settings
from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import Database
from gitproductivity.core.ids import new_id
from gitproductivity.events import service as events
from gitproductivity.events.models import Event
from gitproductivity.events.payloads import MetricsUpdated
from gitproductivity.webhooks import endpoints, retention
from gitproductivity.webhooks.models import Delivery, DeliveryAttempt, Webhook
from tests.conftest import Tenant, run_async

OLD = timedelta(days=40)


def _emit(database: Database, tenant: Tenant, n: int) -> tuple[str, str | None]:
    """(event id, its delivery id) for one metrics.updated event."""
    with database.session() as session:
        event = events.emit(session, organization_id=tenant.organization_id, data=MetricsUpdated.example)
        delivery = session.scalar(select(Delivery.id).where(Delivery.event_id == event.id))
        return event.id, delivery


def _age(database: Database, event_id: str, delivery_id: str | None, *, status: str, finished_ago: timedelta) -> None:
    now = utcnow()
    with database.session() as session:
        session.execute(update(Event).where(Event.id == event_id).values(created_at=now - OLD))
        if delivery_id is None:
            return
        done = None if status == "pending" else now - finished_ago
        session.execute(update(Delivery).where(Delivery.id == delivery_id).values(status=status, completed_at=done))
        if done is not None:
            session.add(
                DeliveryAttempt(
                    id=new_id("att"),
                    delivery_id=delivery_id,
                    number=1,
                    started_at=now,  # recent: the attempt retention alone would keep it
                    duration_ms=1.0,
                    request_headers={},
                    request_body="{}",
                    response_status=200 if status == "succeeded" else 500,
                )
            )


def test_prune_deletes_old_finished_deliveries_and_unreferenced_events(database: Database, tenant: Tenant) -> None:
    with database.session() as session:
        hook = endpoints.create(
            session, organization_id=tenant.organization_id, url="https://example.com/h", events=["*"]
        )
        hook_id = hook.id
    delivered = _emit(database, tenant, 1)
    failed = _emit(database, tenant, 2)
    pending = _emit(database, tenant, 3)
    finished_lately = _emit(database, tenant, 4)
    linked = _emit(database, tenant, 5)
    recent = _emit(database, tenant, 6)
    _age(database, *delivered, status="succeeded", finished_ago=OLD)
    _age(database, *failed, status="failed", finished_ago=OLD)
    _age(database, *pending, status="pending", finished_ago=OLD)
    _age(database, *finished_lately, status="succeeded", finished_ago=timedelta(days=1))
    _age(database, *linked, status="succeeded", finished_ago=OLD)
    with database.session() as session:
        session.execute(update(Webhook).where(Webhook.id == hook_id).values(last_test_delivery_id=linked[1]))
        session.execute(update(Webhook).where(Webhook.id == hook_id).values(enabled=False))  # no fan-out below
        orphan = events.emit(session, organization_id=tenant.organization_id, data=MetricsUpdated.example).id
    _age(database, orphan, None, status="", finished_ago=OLD)

    done = retention.prune(database, older_than=utcnow() - timedelta(days=30), limit=2)  # several chunks

    assert (done.deliveries, done.events) == (2, 3)
    with database.session() as session:
        kept_events = set(session.scalars(select(Event.id)))
        kept_deliveries = set(session.scalars(select(Delivery.id)))
        attempts = set(session.scalars(select(DeliveryAttempt.delivery_id)))
    assert kept_events == {pending[0], finished_lately[0], linked[0], recent[0]}
    assert kept_deliveries == {pending[1], finished_lately[1], linked[1], recent[1]}
    assert attempts == {finished_lately[1], linked[1]}
    assert retention.prune(database, older_than=utcnow() - timedelta(days=30)).events == 0  # nothing left to do


def test_the_worker_component_prunes_only_when_a_retention_is_set(
    database: Database, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    event_id, _ = _emit(database, tenant, 1)  # no endpoints: no deliveries
    _age(database, event_id, None, status="", finished_ago=OLD)
    # Rounds back to back, each counted as it reads the settings: once a second round has begun, the first one
    # (prune or not) is over.
    monkeypatch.setattr(retention, "EVERY_SECONDS", 0.0)
    rounds = [0]

    def counted() -> settings.Settings:
        rounds[0] += 1
        return settings.get_settings()

    monkeypatch.setattr(retention, "get_settings", counted)

    async def one_round() -> None:
        stop = asyncio.Event()
        begun = rounds[0]
        task = asyncio.create_task(retention.run(stop))
        deadline = time.monotonic() + 30
        while rounds[0] < begun + 2:
            assert not task.done(), task
            assert time.monotonic() < deadline, "the retention worker never finished a round"
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, timeout=10)

    def remaining() -> int:
        with database.session() as session:
            return len(session.scalars(select(Event.id)).all())

    run_async(one_round)
    assert remaining() == 1  # the default keeps events forever
    settings.configure(database_url=database.url, event_retention_days=30)
    run_async(one_round)
    assert remaining() == 0


def test_retention_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        settings.Settings(event_retention_days=-1)
