"""The rate limit on the webhook form and the routing page, Retry-After in a delivery's attempt log, and operational
events ticked apart from "All events", in real
Chromium against a real `gitproductivity serve`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import expect

from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import Database
from gitproductivity.core.ids import new_id
from gitproductivity.webhooks import endpoints
from gitproductivity.webhooks.models import Delivery, DeliveryAttempt
from tests.conftest import Tenant
from tests.netutil import Receiver
from tests.web.conftest import UI

pytestmark = pytest.mark.slow  # a real `gitproductivity serve` driven by Chromium

URL = "https://hooks.example.com/gitproductivity"


def test_rate_limit_is_set_on_the_form_refused_when_bad_and_changed_on_the_routing_page(
    ui: UI, tenant: Tenant, api: TestClient, receiver: Receiver
) -> None:
    ui.sign_in(tenant)
    ui.goto("/settings/webhooks/new")
    ui.page.get_by_label("Endpoint URL").fill(receiver.url("/hooks"))
    ui.page.locator("input[name=events][value='developer.added']").check()
    field = ui.page.get_by_label("Rate limit (requests per second, optional)")
    for bad, message in (("fast", "a number of requests per second"), ("0", "Rate limit per second: more than 0")):
        ui.expect_status(422, "/settings/webhooks")
        field.fill(bad)
        ui.page.get_by_role("button", name="Save and send a test").click()
        expect(ui.page.locator("#e-rate_limit_per_second")).to_contain_text(message)
        field = ui.page.get_by_label("Rate limit (requests per second, optional)")
    field.fill("25")
    ui.page.get_by_role("button", name="Save and send a test").click()
    expect(ui.page.locator("#rate-limit")).to_have_text("25")
    hook_id = ui.page.url.split("?")[0].rsplit("/", 1)[1]
    assert api.get(f"/v1/webhooks/{hook_id}").json()["rate_limit_per_second"] == 25

    ui.page.get_by_role("link", name="Edit routing").click()
    rate = ui.page.get_by_label("Rate limit (requests per second; empty: no limit)")
    expect(rate).to_have_value("25")
    rate.fill("0.5")
    ui.page.get_by_role("button", name="Save routing").click()
    expect(ui.page.locator("#rate-limit")).to_have_text("0.5")
    ui.page.get_by_role("link", name="Edit routing").click()
    ui.page.get_by_label("Rate limit (requests per second; empty: no limit)").fill("")
    ui.page.get_by_role("button", name="Save routing").click()
    expect(ui.page.get_by_role("status")).to_contain_text("Routing saved")
    expect(ui.page.locator("#rate-limit")).to_have_count(0)
    assert api.get(f"/v1/webhooks/{hook_id}").json()["rate_limit_per_second"] is None


def test_the_attempt_log_shows_retry_after_and_the_wait_chosen(ui: UI, tenant: Tenant, database: Database) -> None:
    # Made directly: a delivery that a 429 answered, as the dispatcher records it (tests/webhooks has the real one).
    with database.session() as session:
        hook = {"id": endpoints.create(session, organization_id=tenant.organization_id, url=URL, events=["*"]).id}
    now = utcnow()
    delivery_id = new_id("dlv")
    with database.session() as session:
        session.add(
            Delivery(
                id=delivery_id,
                organization_id=tenant.organization_id,
                webhook_id=hook["id"],
                event_id=new_id("evt"),
                event_type="developer.added",
                payload="{}",
                status="pending",
                attempts=1,
                next_attempt_at=now + timedelta(hours=24),
                created_at=now,
            )
        )
        session.flush()
        session.add(
            DeliveryAttempt(
                id=new_id("att"),
                delivery_id=delivery_id,
                number=1,
                started_at=now,
                duration_ms=3.0,
                request_headers={},
                request_body="{}",
                response_status=429,
                response_headers={"Retry-After": "604800"},
                response_body="slow down",
                error_kind="http_status",
                error="HTTP 429",
                retry_after_seconds=604800.0,
                next_retry_seconds=86400.0,
            )
        )
    ui.sign_in(tenant)
    ui.goto(f"/settings/deliveries/{delivery_id}")
    expect(ui.page.locator(".retry-after")).to_contain_text("Retry-After")
    expect(ui.page.locator(".retry-after")).to_contain_text("604800 s")
    expect(ui.page.locator(".retry-after")).to_contain_text("86400 s later (the schedule's longest wait)")


def test_operational_events_are_ticked_apart_from_all_events(
    ui: UI, tenant: Tenant, api: TestClient, receiver: Receiver
) -> None:
    ui.sign_in(tenant)
    ui.goto("/settings/webhooks/new")
    ui.page.get_by_label("Endpoint URL").fill(receiver.url("/hooks"))
    ui.page.locator("input[data-all-events]").check()
    failed = ui.page.locator("input[name=events][value='webhook.delivery.failed']")
    disabled = ui.page.locator("input[name=events][value='webhook.endpoint.disabled']")
    expect(ui.page.locator("input[name=events][value='metrics.updated']")).to_be_checked()
    expect(failed).not_to_be_checked()  # "All events" is the product's events
    expect(disabled).not_to_be_checked()
    failed.check()
    expect(ui.page.locator("input[data-all-events]")).to_be_checked()  # still "all", plus one operational type
    ui.page.get_by_role("button", name="Save and send a test").click()
    expect(ui.page.locator("#test-result")).to_contain_text("answered 200")
    hook_id = ui.page.url.split("?")[0].rsplit("/", 1)[1]
    assert api.get(f"/v1/webhooks/{hook_id}").json()["events"] == ["*", "webhook.delivery.failed"]
    expect(ui.page.get_by_text("All events, webhook.delivery.failed")).to_be_visible()
