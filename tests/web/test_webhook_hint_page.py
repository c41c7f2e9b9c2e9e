"""The webhook page's result card says why a correctly signed test gets a 500: the spec page's Express example,
run by node as written, verifies parsed JSON instead of the raw body. Real Chromium, real `serve`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import Tenant
from tests.web.conftest import UI
from tests.web.test_webhooks_pages import add_webhook
from tests.webhooks.test_test_hint import HINT, NodeReceiver

pytestmark = pytest.mark.slow  # a real `gitproductivity serve` driven by Chromium


@pytest.fixture
def node(tmp_path: Path) -> Iterator[NodeReceiver]:
    receiver = NodeReceiver(tmp_path)
    yield receiver
    receiver.stop()


def test_the_result_card_and_the_send_test_message_carry_the_hint(ui: UI, tenant: Tenant, node: NodeReceiver) -> None:
    ui.sign_in(tenant)
    add_webhook(ui, node.url("/as-written"), ["developer.added"])
    expect(ui.page.locator("#test-result")).to_contain_text("answered 500")
    expect(ui.page.locator("#test-hint")).to_contain_text(HINT)
    expect(ui.page.locator("#test-hint")).to_contain_text("raw body")

    ui.page.get_by_role("button", name="Send test").click()
    expect(ui.page.get_by_role("status")).to_contain_text("answered 500")
    expect(ui.page.get_by_role("status")).to_contain_text(HINT)
