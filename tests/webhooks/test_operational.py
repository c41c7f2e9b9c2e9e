"""Operational events (`webhook.endpoint.disabled`, `webhook.delivery.failed`) delivered to subscribed endpoints by
the real dispatcher and real receivers, on both databases, and the loop rule: no endpoint hears of its own
failures, and the failure of an operational event's delivery emits nothing."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import Database
from gitproductivity.events import service as events
from gitproductivity.events.models import Event
from gitproductivity.events.payloads import DeveloperAdded, envelope_model
from gitproductivity.notifications.models import Notification
from gitproductivity.webhooks import health
from gitproductivity.webhooks.models import Delivery
from tests.conftest import Tenant
from tests.webhooks.conftest import Receiver, RunningDispatcher, wait_for

FAILED, DISABLED = "webhook.delivery.failed", "webhook.endpoint.disabled"


def add_hook(api: TestClient, url: str, events_: list[str]) -> str:
    resp = api.post("/v1/webhooks", json={"url": url, "events": events_})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


def received(receiver: Receiver, path: str, event_type: str) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in receiver.on(path) if r.headers["X-GitProductivity-Event"] == event_type]


def settled(database: Database) -> bool:
    with database.session() as session:
        return not session.scalars(select(Delivery.id).where(Delivery.status == "pending")).first()


def feed(database: Database, event_type: str) -> list[dict[str, Any]]:
    with database.session() as session:
        return [json.loads(p) for p in session.scalars(select(Event.payload).where(Event.type == event_type))]


def emit_developer(database: Database, tenant: Tenant) -> str:
    with database.session() as session:
        data = DeveloperAdded(developer_id="dev_1", name="Jane Doe", email="jane@example.com")
        return events.emit(session, organization_id=tenant.organization_id, data=data).id


def test_operational_types_are_in_the_catalogue_and_can_be_subscribed_to(
    api: TestClient, receiver: Receiver, fast: Any
) -> None:
    listed = {t["type"]: t["category"] for t in api.get("/v1/event-types").json()["data"]}
    assert listed[FAILED] == listed[DISABLED] == "operational"
    assert listed["developer.added"] == "product" and listed["webhook.test"] == "test"
    assert [t for t, c in listed.items() if c == "product"] == [
        "developer.added",
        "developer.removed",
        "repository.connected",
        "repository.disconnected",
        "analysis.complete",
        "metrics.updated",
    ]
    add_hook(api, receiver.url("/ops"), [FAILED, DISABLED])
    both = api.post("/v1/webhooks", json={"url": receiver.url("/all"), "events": ["*", DISABLED, "metrics.updated"]})
    assert both.status_code == 201 and both.json()["events"] == ["*", DISABLED]


def test_a_failed_delivery_is_an_event_for_other_endpoints_and_never_for_its_own(
    api: TestClient, tenant: Tenant, database: Database, receiver: Receiver, dispatcher: RunningDispatcher
) -> None:
    failing = add_hook(api, receiver.url("/fail"), ["*", FAILED])
    ops = add_hook(api, receiver.url("/ops"), [FAILED])
    add_hook(api, receiver.url("/everything"), ["*"])
    event_id = emit_developer(database, tenant)

    [notice] = wait_for(lambda: received(receiver, "/ops", FAILED), what="webhook.delivery.failed at /ops")
    envelope_model(FAILED).model_validate(notice)
    data = notice["data"]
    assert data["webhook_id"] == failing and data["event"] == {"id": event_id, "type": "developer.added"}
    assert data["attempts"] == 6 and data["last_status_code"] == 500 and data["last_error"] == "HTTP 500"
    with database.session() as session:
        failed = session.scalars(
            select(Delivery.id).where(
                Delivery.webhook_id == failing, Delivery.status == "failed", Delivery.is_test.is_(False)
            )
        ).one()
        assert data["delivery_id"] == failed
        assert session.scalars(select(Notification.kind).where(Notification.kind == "delivery.failed")).all()
    wait_for(lambda: settled(database), what="every delivery finished")
    assert received(receiver, "/fail", FAILED) == []  # not told of its own failure, though subscribed
    assert received(receiver, "/everything", FAILED) == []  # "*" is the product types: operational ones are named
    assert len(received(receiver, "/everything", "developer.added")) == 1
    assert ops not in {e["data"]["webhook_id"] for e in feed(database, FAILED)}


def test_two_failing_endpoints_do_not_tell_each_other_of_their_failures_in_a_loop(
    api: TestClient, tenant: Tenant, database: Database, receiver: Receiver, dispatcher: RunningDispatcher
) -> None:
    first = add_hook(api, receiver.url("/fail"), ["*", FAILED])
    second = add_hook(api, receiver.url("/fail"), ["*", FAILED])
    emit_developer(database, tenant)
    # Each endpoint's failure becomes one event, sent to the other endpoint (which fails it too), and ends there.
    wait_for(lambda: len(feed(database, FAILED)) == 2 and settled(database), what="both failures and their deliveries")
    about = sorted(e["data"]["webhook_id"] for e in feed(database, FAILED))
    assert about == sorted([first, second])
    with database.session() as session:
        rows = session.execute(select(Delivery.webhook_id, Delivery.event_type, Delivery.status)).all()
    operational = [(hook, status) for hook, kind, status in rows if kind == FAILED]
    assert sorted(operational) == sorted([(first, "failed"), (second, "failed")])
    # Those two failed too, and made no third event: the chain stopped.
    assert len(feed(database, FAILED)) == 2


def test_an_endpoint_disabled_automatically_or_by_a_user_is_an_event(
    api: TestClient, tenant: Tenant, database: Database, receiver: Receiver, dispatcher: RunningDispatcher
) -> None:
    failing = add_hook(api, receiver.url("/fail"), ["*"])
    other = add_hook(api, receiver.url("/other"), ["developer.added"])
    ops = add_hook(api, receiver.url("/ops"), [DISABLED])
    # The auto-disable clock through five days of failures (webhooks.health, as the recorder feeds it).
    start = utcnow()
    for hours in (0, 25, 50, 75, 100, 120):
        with database.session() as session:
            health.update(session, outcomes=[(failing, False)], now=start + timedelta(hours=hours))
    [automatic] = wait_for(lambda: received(receiver, "/ops", DISABLED), what="the automatic disable")
    envelope_model(DISABLED).model_validate(automatic)
    assert automatic["data"]["webhook_id"] == failing and automatic["data"]["trigger"] == "automatic"
    assert automatic["data"]["reason"].startswith("disabled automatically")
    assert automatic["data"]["failing_since"] is not None

    assert api.patch(f"/v1/webhooks/{other}", json={"enabled": False}).status_code == 200
    wait_for(lambda: len(received(receiver, "/ops", DISABLED)) == 2, what="the disable by a user")
    manual = received(receiver, "/ops", DISABLED)[1]["data"]
    assert manual["webhook_id"] == other and manual["trigger"] == "manual" and manual["failing_since"] is None
    # Disabling the subscriber itself: not sent to it (it is disabled, and it is what the event is about).
    assert api.patch(f"/v1/webhooks/{ops}", json={"enabled": False}).status_code == 200
    wait_for(lambda: len(feed(database, DISABLED)) == 3, what="the third event in the feed")
    wait_for(lambda: settled(database), what="deliveries finished")
    with database.session() as session:
        kinds = session.scalars(select(Delivery.webhook_id).where(Delivery.event_type == DISABLED)).all()
    assert sorted(kinds) == [ops, ops]
