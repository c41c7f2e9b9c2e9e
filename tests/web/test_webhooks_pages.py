"""Settings → Webhooks and Notifications in real Chromium, with a real receiver on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from pathlib import Path

import pytest
from playwright.sync_api import expect

from gitproductivity.core.db import Database
from tests.conftest import Tenant
from tests.netutil import Receiver
from tests.web.conftest import UI

pytestmark = pytest.mark.slow  # a real `gitproductivity serve` driven by Chromium


def signed_by(secret: str, headers: Mapping[str, str], body: bytes) -> bool:
    """The spec page's check: sha256=<hex HMAC of the raw body, keyed with the secret string>."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["X-GitProductivity-Signature"], expected)


def add_webhook(ui: UI, url: str, events: list[str]) -> None:
    ui.goto("/settings/webhooks")
    ui.page.get_by_role("link", name="Add Webhook").first.click()
    ui.page.get_by_label("Endpoint URL").fill(url)
    for event in events:
        ui.page.locator(f"input[name=events][value='{event}']").check()
    ui.page.get_by_role("button", name="Save and send a test").click()


def test_add_webhook_test_result_deliveries_redeliver_rotate_disable(
    ui: UI, tenant: Tenant, receiver: Receiver, tmp_path: Path
) -> None:
    ui.page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    ui.sign_in(tenant)
    ui.goto("/settings/webhooks")
    expect(ui.page.get_by_text("No webhooks yet.")).to_be_visible()

    # A form error first: no events chosen. The URL is kept and the message sits by the events.
    ui.page.get_by_role("link", name="Add Webhook").first.click()
    ui.page.get_by_label("Endpoint URL").fill(receiver.url("/hooks"))
    ui.expect_status(422, "/settings/webhooks")
    ui.page.get_by_role("button", name="Save and send a test").click()
    expect(ui.page.locator("#e-events")).to_contain_text("Events: choose at least one event")
    expect(ui.page.get_by_label("Endpoint URL")).to_have_value(receiver.url("/hooks"))
    assert receiver.requests == []
    ui.screenshot("webhook-new", tmp_path)

    add_webhook(ui, receiver.url("/hooks"), ["developer.added", "developer.removed"])
    # After saving, the page shows the test webhook's result and the secret with a copy button.
    expect(ui.page.locator("#test-result")).to_contain_text("answered 200")
    expect(ui.page.locator("#test-result")).to_contain_text(" ms")
    secret = ui.page.locator("#secret").inner_text().strip()
    assert secret.startswith("whsec_")
    ui.page.get_by_role("button", name="Copy").click()
    expect(ui.page.get_by_role("button", name="Copied")).to_be_visible()
    assert ui.page.evaluate("navigator.clipboard.readText()") == secret
    ui.screenshot("webhook-saved", tmp_path)

    (test,) = receiver.wait_for(1)
    assert test.headers["X-GitProductivity-Event"] == "webhook.test"
    assert signed_by(secret, test.headers, test.body)
    webhook_url = ui.page.url.split("?")[0]

    # The list shows it with its events and status.
    ui.goto("/settings/webhooks")
    row = ui.page.get_by_role("row", name=receiver.url("/hooks"))
    expect(row).to_contain_text("developer.added, developer.removed")
    expect(row).to_contain_text("enabled")
    ui.screenshot("webhooks", tmp_path)

    # A developer change made in the UI is delivered, signed, and shows up with its attempt.
    ui.goto("/developers")
    ui.page.get_by_label("Name").fill("Ada Lovelace")
    ui.page.get_by_label("Email", exact=True).fill("ada@example.com")
    ui.page.get_by_role("button", name="Add developer").click()
    added = receiver.wait_for(2)[1]
    envelope = json.loads(added.body)
    assert envelope["type"] == "developer.added"
    assert envelope["data"]["email"] == "ada@example.com"
    assert signed_by(secret, added.headers, added.body)

    ui.page.goto(webhook_url)
    delivery_row = ui.page.get_by_role("row", name="developer.added")
    expect(delivery_row).to_contain_text("succeeded")  # htmx refreshes the table while it is pending
    delivery_row.get_by_role("link", name="developer.added").click()
    attempt = ui.page.locator("#attempt-1")
    expect(attempt).to_contain_text("HTTP 200")
    expect(attempt).to_contain_text("X-GitProductivity-Signature: sha256=")
    expect(attempt).to_contain_text('"email": "ada@example.com"')  # the request body, pretty-printed
    expect(attempt).to_contain_text('"received": true')  # the receiver's answer
    ui.screenshot("delivery", tmp_path)

    ui.page.get_by_role("button", name="Redeliver").click()
    expect(ui.page.get_by_role("status")).to_contain_text("Queued a new delivery")
    again = receiver.wait_for(3)[2]
    assert again.headers["webhook-id"] == added.headers["webhook-id"]  # same event: receivers can dedupe
    assert again.headers["X-GitProductivity-Delivery"] != added.headers["X-GitProductivity-Delivery"]
    expect(ui.page.locator("#attempt-1")).to_contain_text("HTTP 200")

    # Rotate the secret: a new one is shown, and it signs what is sent next.
    ui.page.goto(webhook_url)
    ui.page.get_by_role("button", name="Rotate secret").click()
    expect(ui.page.get_by_role("status")).to_contain_text("New signing secret")
    new_secret = ui.page.locator("#secret").inner_text().strip()
    assert new_secret.startswith("whsec_") and new_secret != secret
    ui.page.get_by_role("button", name="Send test").click()
    expect(ui.page.get_by_role("status")).to_contain_text("answered 200")
    rotated = receiver.wait_for(4)[3]
    assert signed_by(new_secret, rotated.headers, rotated.body)

    # Filter deliveries by status.
    ui.page.get_by_role("link", name="Failed", exact=True).click()
    expect(ui.page.get_by_text("No failed deliveries.")).to_be_visible()

    # Disable, then enable again.
    ui.page.get_by_role("button", name="Disable").click()
    expect(ui.page.get_by_role("status")).to_contain_text("Disabled")
    expect(ui.page.locator(".page-head .pill")).to_have_text("disabled")
    ui.page.get_by_role("button", name="Enable").click()
    expect(ui.page.locator(".page-head .pill")).to_have_text("enabled")

    # Edit events: all events.
    ui.page.get_by_text("Edit events").click()
    ui.page.locator("details[open] input[data-all-events]").check()
    ui.page.get_by_role("button", name="Save events").click()
    expect(ui.page.get_by_role("status")).to_contain_text("Events saved")
    expect(ui.page.locator("dl.meta")).to_contain_text("All events")

    # Delete, after the confirmation.
    ui.page.get_by_role("button", name="Delete").click()
    expect(ui.page.get_by_role("status")).to_contain_text("Deleted the webhook")
    expect(ui.page.get_by_text("No webhooks yet.")).to_be_visible()


def test_a_failing_endpoint_shows_the_error_and_notifies(
    ui: UI, tenant: Tenant, receiver: Receiver, tmp_path: Path
) -> None:
    receiver.status = 500
    ui.sign_in(tenant)
    add_webhook(ui, receiver.url("/hooks"), ["developer.added"])
    expect(ui.page.locator("#test-result")).to_contain_text("answered 500")
    expect(ui.page.locator("#test-result")).to_contain_text("not a 2xx")
    webhook_url = ui.page.url.split("?")[0]

    # An endpoint that does not answer at all: the error in plain words.
    ui.goto("/settings/webhooks/new")
    ui.page.get_by_label("Endpoint URL").fill("http://127.0.0.1:9/nobody-listens")
    ui.page.locator("input[name=events][value='developer.added']").check()
    ui.page.get_by_role("button", name="Save and send a test").click()
    expect(ui.page.locator("#test-result")).to_contain_text("did not arrive")

    # A real event that keeps failing: retried on the (compressed) schedule, then failed and notified.
    ui.goto("/developers")
    ui.page.get_by_label("Name").fill("Grace Hopper")
    ui.page.get_by_label("Email", exact=True).fill("grace@example.com")
    ui.page.get_by_role("button", name="Add developer").click()
    ui.page.goto(webhook_url)
    row = ui.page.get_by_role("row", name="developer.added")
    expect(row).to_contain_text("failed", timeout=15_000)  # htmx refreshes the table while it is pending
    expect(row).to_contain_text("HTTP 500")
    ui.page.get_by_role("link", name="Failed", exact=True).click()
    row = ui.page.get_by_role("row", name="developer.added")
    expect(row).to_contain_text("failed")
    # The bell: both endpoints failed (it refreshes every 15 s, in case the second failed after this page loaded).
    expect(ui.page.locator("#unread-count")).to_have_text("2", timeout=20_000)
    row.get_by_role("link", name="developer.added").click()
    expect(ui.page.locator("#attempt-3")).to_contain_text("HTTP 500")  # first try and two retries

    ui.page.get_by_role("link", name="Notifications").click()
    notes = ui.page.locator("ul.notes li.unread")
    expect(notes).to_have_count(2)
    expect(ui.page.locator("ul.notes")).to_contain_text(f"delivery to {receiver.url('/hooks')} failed after 3 attempts")
    ui.screenshot("notifications", tmp_path)
    notes.first.get_by_role("button", name="Mark as read").click()
    expect(ui.page.locator("ul.notes li.unread")).to_have_count(1)
    expect(ui.page.locator("#unread-count")).to_have_text("1")
    # Each notification opens what it is about: here, the failed delivery to the receiver.
    ui.page.locator("ul.notes li", has_text=receiver.url("/hooks")).get_by_role("link", name="Open").click()
    expect(ui.page.get_by_role("heading", name="developer.added delivery")).to_be_visible()
    expect(ui.page.locator("#attempt-3")).to_contain_text("HTTP 500")

    # The receiver is fixed: recover everything that failed since yesterday, and it arrives.
    receiver.status = 200
    before = len(receiver.requests)
    ui.page.goto(webhook_url)
    ui.page.get_by_text("Recover failed deliveries").click()
    ui.page.get_by_role("button", name="Recover").click()
    expect(ui.page.get_by_role("status")).to_contain_text("Re-sending 1 failed delivery since")
    recovered = receiver.wait_for(before + 1)[before]
    assert json.loads(recovered.body)["data"]["email"] == "grace@example.com"
    newest = ui.page.locator("#deliveries tbody tr").first  # newest first; refreshed while pending
    expect(newest).to_contain_text("developer.added")
    expect(newest).to_contain_text("succeeded")


def test_webhook_pages_are_scoped_to_the_organisation(
    ui: UI, tenant: Tenant, other_tenant: Tenant, database: Database
) -> None:
    from gitproductivity.webhooks import endpoints

    with database.session() as session:
        theirs = endpoints.create(
            session, organization_id=other_tenant.organization_id, url="https://example.com/theirs", events=["*"]
        )
    ui.sign_in(tenant)
    ui.goto("/settings/webhooks")
    expect(ui.page.get_by_text("No webhooks yet.")).to_be_visible()
    ui.expect_status(404, f"/settings/webhooks/{theirs.id}")
    resp = ui.goto(f"/settings/webhooks/{theirs.id}")
    assert resp.status == 404
    expect(ui.page.get_by_role("alert")).to_contain_text("nothing at this address")
    expect(ui.page.get_by_role("navigation", name="Main")).to_contain_text("Developers")  # the header stays
    ui.goto("/developers")
    token = ui.page.locator("input[name=csrf_token]").first.input_value()
    for action in ("delete", "disable", "rotate"):
        r = ui.page.request.post(ui.base + f"/settings/webhooks/{theirs.id}/{action}", form={"csrf_token": token})
        assert r.status == 404
    with database.session() as session:
        kept = endpoints.get(session, organization_id=other_tenant.organization_id, webhook_id=theirs.id)
        assert kept.enabled and kept.secret == theirs.secret
