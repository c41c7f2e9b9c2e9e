"""Finding 7 of issue 12 in a real browser: a copy of the session cookie taken while signed in stops working, for
pages and for form posts, the moment its owner signs out or changes the password."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from gitproductivity.core.db import Database
from gitproductivity.developers.models import Developer
from tests.conftest import Tenant
from tests.web.conftest import UI, Server

pytestmark = pytest.mark.slow  # a real `gitproductivity serve` driven by Chromium


def _copy_session(ui: UI, browser: Any) -> tuple[Any, str]:
    """Another browser context holding a copy of the signed-in cookie (what a thief would take), and the page's
    CSRF token; the copy works while the session does."""
    ui.goto("/developers")
    token = ui.page.locator("input[name=csrf_token]").first.input_value()
    thief = browser.new_context()
    thief.add_cookies(ui.page.context.cookies())
    page = thief.new_page()
    page.goto(ui.base + "/developers")
    expect(page.get_by_role("heading", name="Developers", exact=True)).to_be_visible()
    return thief, token


def _assert_copy_is_worthless(ui: UI, thief: Any, token: str, database: Database, name: str) -> None:
    page = thief.pages[0]
    page.goto(ui.base + "/developers")
    expect(page).to_have_url(ui.base + "/login?next=/developers")
    resp = page.request.post(
        ui.base + "/developers", form={"name": name, "email": f"{name.lower()}@example.com", "csrf_token": token}
    )
    assert re.search(r"/login(\?|$)", resp.url), resp.url
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Developer).where(Developer.name == name)) == 0
    thief.close()


def test_a_copied_cookie_stops_working_after_sign_out(
    ui: UI, browser: Any, server: Server, tenant: Tenant, database: Database
) -> None:
    ui.sign_in(tenant)
    thief, token = _copy_session(ui, browser)
    ui.sign_out()
    expect(ui.page).to_have_url(ui.base + "/login")
    _assert_copy_is_worthless(ui, thief, token, database, "Mallory")


def test_a_copied_cookie_stops_working_after_a_password_change(
    ui: UI, browser: Any, server: Server, tenant: Tenant, database: Database
) -> None:
    ui.sign_in(tenant)
    thief, token = _copy_session(ui, browser)
    ui.page.get_by_role("link", name=tenant.email).click()
    expect(ui.page).to_have_url(ui.base + "/account")
    ui.page.get_by_label("Current password").fill("not my password")
    ui.expect_status(422, "/account/password")
    ui.page.get_by_label("New password", exact=True).fill("correct horse battery staple")
    ui.page.get_by_label("New password again").fill("correct horse battery staple")
    ui.page.get_by_role("button", name="Change password").click()
    expect(ui.page.locator("#e-current_password")).to_contain_text("That is not your current password.")

    ui.page.get_by_label("Current password").fill(tenant.password)
    ui.page.get_by_label("New password", exact=True).fill("correct horse battery staple")
    ui.page.get_by_label("New password again").fill("correct horse battery staple")
    ui.page.get_by_role("button", name="Change password").click()
    expect(ui.page.get_by_role("status")).to_contain_text("Every other session was signed out")
    _assert_copy_is_worthless(ui, thief, token, database, "Trudy")

    ui.goto("/developers")  # the browser that changed the password stays signed in
    expect(ui.page.get_by_role("heading", name="Developers", exact=True)).to_be_visible()
    ui.sign_out()
    ui.sign_in(Tenant(tenant.organization_id, tenant.email, "correct horse battery staple", tenant.api_key))


def test_the_bells_poll_is_sent_as_background(ui: UI, tenant: Tenant) -> None:
    """htmx merges the bell's `hx-headers` with the page's (the CSRF token): its poll carries the background
    header, so an open tab does not keep its session alive (tests/web/test_session_idle_polls.py)."""
    ui.sign_in(tenant)
    with ui.page.expect_request(lambda r: r.url.endswith("/notifications/badge")) as polled:
        ui.goto("/developers")
    headers = polled.value.all_headers()
    assert headers.get("x-gp-background") == "1"
    assert headers.get("x-csrf-token")
