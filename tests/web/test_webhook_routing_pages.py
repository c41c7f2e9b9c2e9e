"""Settings → Webhooks → Routing in real Chromium: the search-as-you-type developer picker, the raw filter editor
(errors with their paths, input kept), extra headers, and a real receiver that gets only the matching events."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import expect

from tests.conftest import Tenant
from tests.netutil import Receiver
from tests.web.conftest import UI
from tests.web.test_webhooks_pages import add_webhook

pytestmark = pytest.mark.slow  # a real `gitproductivity serve` driven by Chromium


def test_routing_pickers_filter_and_headers(ui: UI, tenant: Tenant, api: TestClient, receiver: Receiver) -> None:
    # Enough developers that a select of all of them would be the wrong tool; the picker suggests 20 at most.
    for n in range(40):
        assert (
            api.post("/v1/developers", json={"name": f"Dev {n:02d}", "email": f"d{n}@example.com"}).status_code == 201
        )
    ada = api.post("/v1/developers", json={"name": "Ada Lovelace", "email": "ada@example.com"}).json()
    bob = api.post("/v1/developers", json={"name": "Bob Jones", "email": "bob@example.com"}).json()

    ui.sign_in(tenant)
    add_webhook(ui, receiver.url("/hooks"), ["developer.removed"])
    expect(ui.page.locator("#test-result")).to_contain_text("answered 200")
    webhook_url = ui.page.url.split("?")[0]
    ui.page.get_by_role("link", name="Edit routing").click()

    search = ui.page.get_by_label("Add a developer")
    search.press_sequentially("Dev ")
    expect(ui.page.locator("#developers-options option")).to_have_count(20)
    search.fill("")
    search.press_sequentially("lovel")
    options = ui.page.locator("#developers-options option")
    expect(options).to_have_count(1)
    assert options.get_attribute("value") == ada["id"]
    search.fill(ada["id"])  # what choosing the suggestion does

    # A bad raw filter: nothing saved, every error with its path, the typed input kept (answered 422).
    routing_path = ui.page.url[len(ui.base) :].split("?", 1)[0]
    ui.expect_status(422, routing_path)
    ui.page.get_by_label("Other conditions (JSON filter)").fill('{"data.x": {"$gt": [1]}, "$nope": 1}')
    ui.page.get_by_label("Extra headers").fill("X-Team: platform")
    ui.page.get_by_role("button", name="Save routing").click()
    expect(ui.page.locator("#e-filter")).to_contain_text("data.x.$gt: must be a number or a string")
    expect(ui.page.locator("#e-filter")).to_contain_text("$nope")
    expect(ui.page.get_by_label("Extra headers")).to_have_value("X-Team: platform")
    assert api.get(webhook_url.replace("/settings/webhooks", "/v1/webhooks")).json()["filter"] is None

    # Credentials need the server's key: said in words, nothing saved.
    ui.page.get_by_label("Other conditions (JSON filter)").fill('{"type": "developer.removed"}')
    ui.page.get_by_label("Bearer token").check()
    ui.page.get_by_label("Password or token").fill("tok123")
    ui.page.get_by_role("button", name="Save routing").click()
    expect(ui.page.locator("#e-auth")).to_contain_text("GITPRODUCTIVITY_WEBHOOK_CREDENTIALS_KEY")

    ui.page.get_by_label("None", exact=True).check()
    ui.page.get_by_role("button", name="Save routing").click()
    expect(ui.page.get_by_role("status")).to_contain_text("Routing saved")
    hook = api.get(webhook_url.replace("/settings/webhooks", "/v1/webhooks")).json()
    assert hook["filter"] == {"type": "developer.removed", "data.developer_id": {"$in": [ada["id"]]}}
    assert hook["headers"] == {"X-Team": "platform"}
    expect(ui.page.locator("#routing-summary")).to_contain_text("X-Team")

    # The page shows the saved choice back as a ticked developer, the rest in the raw editor.
    ui.page.get_by_role("link", name="Edit routing").click()
    expect(ui.page.get_by_label("Ada Lovelace")).to_be_checked()
    assert json.loads(ui.page.get_by_label("Other conditions (JSON filter)").input_value()) == {
        "type": "developer.removed"
    }

    before = len(receiver.requests)
    api.delete(f"/v1/developers/{bob['id']}")
    api.delete(f"/v1/developers/{ada['id']}")
    got = receiver.wait_for(before + 1)
    assert json.loads(got[-1].body)["data"]["developer_id"] == ada["id"]
    assert got[-1].headers["X-Team"] == "platform"
    # Bob's removal made no delivery at all: the delivery log holds the test and Ada's removal only.
    ui.page.goto(webhook_url + "?event_type=developer.removed")
    expect(ui.page.locator("#deliveries tbody tr")).to_have_count(1)
    assert len(receiver.requests) == before + 1
