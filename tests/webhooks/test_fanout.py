"""Fan-out of one event (`events.emit`): a delivery for each enabled endpoint of the event's organisation that is
subscribed to its type and whose filter it matches, and for nothing else. On PostgreSQL the endpoints are read in
the statement that inserts the event (`events.read_along`): these tests check that the rule is the same either
way, that the statement reads the endpoints as they are now, and that it saves the separate query."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from gitproductivity.core.db import Database
from gitproductivity.core.settings import Settings
from gitproductivity.events import service as events
from gitproductivity.events.payloads import DeveloperAdded
from gitproductivity.webhooks.models import Delivery, Webhook
from tests.conftest import Tenant

ADDED = DeveloperAdded(developer_id="dev_1", name="Dev 1", email="dev1@example.com")


def add_hook(client: TestClient, headers: dict[str, str], **fields: Any) -> str:
    resp = client.post(
        "/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["*"], **fields}, headers=headers
    )
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


def deliveries(database: Database, event_id: str) -> list[str]:
    with database.session() as session:
        stmt = select(Delivery.webhook_id).where(Delivery.event_id == event_id, Delivery.is_test.is_(False))
        return sorted(session.scalars(stmt))


def test_an_event_goes_to_its_organisations_enabled_subscribed_matching_endpoints_only(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, database: Database, fast: Settings
) -> None:
    everything = add_hook(client, tenant.headers)
    typed = add_hook(client, tenant.headers, events=["developer.added"])
    add_hook(client, tenant.headers, events=["metrics.updated"])  # another type
    add_hook(client, tenant.headers, filter={"data.developer_id": "dev_2"})  # its filter does not match
    disabled = add_hook(client, tenant.headers)
    assert client.patch(f"/v1/webhooks/{disabled}", json={"enabled": False}, headers=tenant.headers).status_code == 200
    add_hook(client, other_tenant.headers)  # another organisation's

    with database.session() as session:
        emitted = events.emit(session, organization_id=tenant.organization_id, data=ADDED)
    assert deliveries(database, emitted.id) == sorted([everything, typed])

    # What the next event's statement reads is the endpoints as they are now (nothing is remembered between
    # transactions): one enabled again, one disabled.
    assert client.patch(f"/v1/webhooks/{disabled}", json={"enabled": True}, headers=tenant.headers).status_code == 200
    assert client.patch(f"/v1/webhooks/{typed}", json={"enabled": False}, headers=tenant.headers).status_code == 200
    with database.session() as session:
        second = events.emit(session, organization_id=tenant.organization_id, data=ADDED)
        third = events.emit(session, organization_id=other_tenant.organization_id, data=ADDED)
    assert deliveries(database, second.id) == sorted([everything, disabled])
    assert len(deliveries(database, third.id)) == 1  # the other organisation's one endpoint, in the same transaction


def test_an_organisation_without_endpoints_gets_no_delivery(
    tenant: Tenant, other_tenant: Tenant, client: TestClient, database: Database, fast: Settings
) -> None:
    add_hook(client, other_tenant.headers)
    with database.session() as session:
        emitted = events.emit(session, organization_id=tenant.organization_id, data=ADDED)
    assert deliveries(database, emitted.id) == []


@pytest.mark.parametrize("backend", ["postgresql"])  # the endpoints ride on the insert only where it is a round trip
def test_on_postgresql_the_event_s_insert_reads_the_endpoints(
    client: TestClient, tenant: Tenant, database: Database, fast: Settings
) -> None:
    hook = add_hook(client, tenant.headers)
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement.split(None, 3)[2] if statement.startswith("INSERT") else statement.split(None, 1)[0])

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        with database.session() as session:
            emitted = events.emit(session, organization_id=tenant.organization_id, data=ADDED)
    finally:
        event.remove(database.engine, "before_cursor_execute", record)
    assert sent == ["events", "webhook_deliveries"]  # no separate SELECT of the endpoints
    assert deliveries(database, emitted.id) == [hook]


def test_an_endpoint_changed_earlier_in_the_same_transaction_is_seen_as_changed(
    client: TestClient, tenant: Tenant, database: Database, fast: Settings
) -> None:
    kept = add_hook(client, tenant.headers)
    disabled = add_hook(client, tenant.headers)
    with database.session() as session:
        hook = session.get_one(Webhook, disabled)
        hook.enabled = False  # not flushed yet: the fan-out's read (a Core statement, or the insert) must see it
        emitted = events.emit(session, organization_id=tenant.organization_id, data=ADDED)
    assert deliveries(database, emitted.id) == [kept]
