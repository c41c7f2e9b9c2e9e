"""Words, not internals, at a desktop width and a phone width, in real Chromium on both databases: every field
error at once in plain words, private destinations refused with the setting named, a failed test shown as a
failure, a "New secret" card after rotating, a delivery's latest attempt open and the others collapsed, JSON
pretty-printed, a redelivery linked to its original, notifications in words with their actions, "Mark all as
read", read on open, error pages with the header; and no page scrolls sideways."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.conftest import Tenant
from tests.netutil import Receiver, refusing_port
from tests.web.conftest import UI

pytestmark = pytest.mark.slow  # a real `gitproductivity serve` driven by Chromium

WIDTHS = [pytest.param(1280, id="1280px"), pytest.param(390, id="390px")]
#: What a person must never read: exception class names and the validation library's own sentences.
INTERNALS = re.compile(r"\b\w+(Error|Exception)\b|String should|Field required|Input should|Traceback")


def at_width(ui: UI, width: int) -> None:
    ui.page.set_viewport_size({"width": width, "height": 860})


def no_sideways_scroll(ui: UI) -> None:
    """The page is no wider than the window (no horizontal scrollbar), whatever it shows."""
    wide = ui.page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    if wide[0] > wide[1]:
        culprits = ui.page.evaluate(
            "[...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > innerWidth)"
            ".slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"
        )
        raise AssertionError(f"{ui.path()} scrolls sideways: {wide[0]} px wide in a {wide[1]} px window: {culprits}")


def no_internals(ui: UI) -> None:
    """The visible text (collapsed technical details excluded) names no exception and no pydantic sentence."""
    text = ui.page.locator("main").inner_text()
    assert not INTERNALS.search(text), INTERNALS.search(text)


def add_webhook(ui: UI, url: str, events: list[str]) -> None:
    ui.goto("/settings/webhooks/new")
    ui.page.get_by_label("Endpoint URL").fill(url)
    for event in events:
        ui.page.locator(f"input[name=events][value='{event}']").check()
    ui.page.get_by_role("button", name="Save and send a test").click()


@pytest.mark.parametrize("width", WIDTHS)
def test_forms_errors_and_webhook_cards_in_words(ui: UI, tenant: Tenant, receiver: Receiver, width: int) -> None:
    at_width(ui, width)
    ui.sign_in(tenant)

    # Three wrong fields at once: all three named, in plain words, by their fields and in one summary.
    ui.goto("/settings/webhooks/new")
    ui.page.get_by_label("Endpoint URL").fill("http://10.0.0.8/hook")
    ui.page.get_by_label("Description (optional)").fill("d" * 501)
    ui.expect_status(422, "/settings/webhooks")
    ui.page.get_by_role("button", name="Save and send a test").click()
    summary = ui.page.locator("#form-errors")
    expect(summary).to_contain_text("Fix these 3 fields")
    expect(ui.page.locator("#e-url")).to_contain_text("URL: 10.0.0.8 is a private or reserved address")
    expect(ui.page.locator("#e-url")).to_contain_text("GITPRODUCTIVITY_WEBHOOK_ALLOW_PRIVATE_DESTINATIONS=true")
    expect(ui.page.locator("#e-description")).to_have_text("Description: at most 500 characters")
    expect(ui.page.locator("#e-events")).to_have_text("Events: choose at least one event")
    for message in ("URL: 10.0.0.8", "Description: at most 500", "Events: choose at least one"):
        expect(summary).to_contain_text(message)
    expect(ui.page.get_by_role("navigation", name="Main")).to_be_visible()
    no_internals(ui)
    no_sideways_scroll(ui)
    assert receiver.requests == []

    # Nothing listening: saved, but the test failed, and the card says so in words.
    with refusing_port() as port:
        add_webhook(ui, f"http://127.0.0.1:{port}/nobody-listens", ["developer.added"])
        expect(ui.page.locator("#saved-title")).to_have_text("Saved, but the test delivery failed")
        expect(ui.page.locator("section.saved")).to_have_class(re.compile(r"\bfailed\b"))
        expect(ui.page.locator("#test-result")).to_contain_text(
            f"the receiver refused the connection (nothing listening on 127.0.0.1:{port})"
        )
    no_internals(ui)
    no_sideways_scroll(ui)

    # A working endpoint: "Saved"; after rotating, a "New secret" card and no stale test result.
    add_webhook(ui, receiver.url("/a-rather-long-path/with/several/segments?and=a&query=string"), ["developer.removed"])
    expect(ui.page.locator("#saved-title")).to_have_text("Saved")
    expect(ui.page.locator("#test-result")).to_contain_text("answered 200")
    first_secret = ui.page.locator("#secret").inner_text().strip()
    no_sideways_scroll(ui)
    ui.page.get_by_role("button", name="Rotate secret").click()
    expect(ui.page.locator("#saved-title")).to_have_text("New secret")
    expect(ui.page.locator("#test-result")).to_have_count(0)
    new_secret = ui.page.locator("#secret").inner_text().strip()
    assert new_secret.startswith("whsec_") and new_secret != first_secret
    no_sideways_scroll(ui)

    ui.goto("/settings/webhooks")
    no_sideways_scroll(ui)

    # An error page keeps the header and the navigation.
    ui.expect_status(404, "/settings/webhooks/wh_nothing")
    assert ui.goto("/settings/webhooks/wh_nothing").status == 404
    expect(ui.page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(ui.page.get_by_role("navigation", name="Main")).to_contain_text("Settings → Webhooks")
    expect(ui.page.get_by_role("button", name="Sign out")).to_be_visible()
    no_internals(ui)
    no_sideways_scroll(ui)


@pytest.mark.parametrize("width", WIDTHS)
def test_deliveries_and_notifications_in_words_with_their_actions(
    ui: UI, tenant: Tenant, receiver: Receiver, width: int
) -> None:
    at_width(ui, width)
    receiver.status = 500
    ui.sign_in(tenant)
    add_webhook(ui, receiver.url("/hooks"), ["developer.added"])
    expect(ui.page.locator("#saved-title")).to_have_text("Saved, but the test delivery failed")
    webhook_url = ui.page.url.split("?")[0]

    ui.goto("/developers")
    ui.page.get_by_label("Name").fill("Grace Hopper")
    ui.page.get_by_label("Email", exact=True).fill("grace@example.com")
    ui.page.get_by_role("button", name="Add developer").click()
    ui.page.goto(webhook_url)
    row = ui.page.get_by_role("row", name="developer.added")
    expect(row).to_contain_text("failed", timeout=15_000)  # htmx refreshes the table while it is pending
    row.get_by_role("link", name="developer.added").click()

    # The latest attempt open, on top; the others collapsed; the JSON body indented.
    expect(ui.page.locator("details.attempt")).to_have_count(3)
    expect(ui.page.locator("details.attempt").first).to_have_attribute("id", "attempt-3")
    expect(ui.page.locator("#attempt-3")).to_have_attribute("open", "")
    for older in ("#attempt-1", "#attempt-2"):
        assert ui.page.locator(older).evaluate("e => e.open") is False
        expect(ui.page.locator(f"{older} pre").first).to_be_hidden()
    body = ui.page.locator("#attempt-3 pre.json").first.inner_text()
    assert body.startswith('{\n  "') and json.loads(body)["data"]["email"] == "grace@example.com"
    height = ui.page.evaluate("document.documentElement.scrollHeight")
    no_sideways_scroll(ui)
    no_internals(ui)
    ui.page.locator("#attempt-1 > summary").click()  # a collapsed attempt opens on demand
    expect(ui.page.locator("#attempt-1 pre").first).to_be_visible()
    assert ui.page.evaluate("document.documentElement.scrollHeight") > height
    delivery_path = ui.path()

    # The bell counts the failure; the notification says what happened, with its actions.
    expect(ui.page.locator("#unread-count")).to_have_text("1", timeout=20_000)
    ui.page.get_by_role("link", name="Notifications").click()
    note = ui.page.locator("ul.notes li.unread")
    expect(note).to_have_count(1)
    expect(note.locator(".note-subject")).to_have_text(
        f"A developer.added delivery to {receiver.url('/hooks')} failed after 3 attempts"
    )
    expect(note.get_by_role("button", name="Redeliver")).to_be_visible()
    expect(note.get_by_role("link", name="Open")).to_be_visible()
    expect(note.locator("pre.note-body")).to_be_hidden()  # the technical record, collapsed
    no_internals(ui)
    no_sideways_scroll(ui)

    # Opening it marks it read and goes to the delivery.
    note.get_by_role("link", name="Open").click()
    assert ui.path() == delivery_path
    ui.page.get_by_role("link", name="Notifications").click()
    expect(ui.page.locator("ul.notes li.unread")).to_have_count(0)
    expect(ui.page.locator("ul.notes li.read")).to_have_count(1)

    # Redeliver from the notification: the new delivery links to its original.
    receiver.status = 200
    ui.page.locator("ul.notes li").get_by_role("button", name="Redeliver").click()
    expect(ui.page.get_by_role("status")).to_contain_text("Queued a new delivery")
    expect(ui.page.locator("#original")).to_contain_text("the delivery of")
    expect(ui.page.locator("#attempt-1")).to_contain_text("HTTP 200", timeout=15_000)
    no_sideways_scroll(ui)
    ui.page.locator("#original a").click()
    assert ui.path() == delivery_path
    expect(ui.page.locator("#redeliveries a")).to_have_count(1)

    # Mark all as read: a second failure, then everything read at once.
    receiver.status = 500
    ui.goto("/developers")
    ui.page.get_by_label("Name").fill("Alan Turing")
    ui.page.get_by_label("Email", exact=True).fill("alan@example.com")
    ui.page.get_by_role("button", name="Add developer").click()
    ui.goto("/notifications")
    expect(ui.page.locator("#unread-count")).to_have_text("1", timeout=20_000)
    ui.goto("/notifications")
    expect(ui.page.locator("ul.notes li.unread")).to_have_count(1)
    ui.page.get_by_role("button", name="Mark all as read").click()
    expect(ui.page.get_by_role("status")).to_contain_text("Marked 1 notification as read")
    expect(ui.page.locator("ul.notes li.unread")).to_have_count(0)
    expect(ui.page.locator("#unread-count")).to_have_count(0)
    no_sideways_scroll(ui)


def test_the_focus_ring_is_solid_and_no_rule_breaks_words_mid_token(ui: UI, tenant: Tenant) -> None:
    ui.sign_in(tenant)
    ui.goto("/settings/webhooks/new")
    ui.page.get_by_label("Endpoint URL").focus()
    ui.page.keyboard.press("Tab")  # keyboard focus: :focus-visible applies
    ring = ui.page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, parseFloat(s.outlineWidth), s.outlineColor]; })()"
    )
    assert ring[0] == "solid" and ring[1] >= 2, ring
    assert ring[2] == "rgb(53, 84, 209)", ring  # the brand blue, opaque (5.9:1 on white)
    broken = ui.page.evaluate(
        "[...document.styleSheets].flatMap(s => [...s.cssRules]).filter(r => r.style"
        " && r.style.wordBreak === 'break-all').map(r => r.selectorText)"
    )
    assert broken == []
