"""Issue 13 in a real browser: an owner invites an admin and a viewer on the Members page, each opens their link,
chooses a password, and sees what their role allows (and a viewer's form post is refused)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import Tenant
from tests.web.conftest import UI, Server

pytestmark = pytest.mark.slow  # a real `gitproductivity serve` driven by Chromium

PASSWORD = "correct horse battery staple"


def _invite(ui: UI, email: str, role: str) -> str:
    ui.goto("/members")
    ui.page.get_by_label("Email").fill(email)
    ui.page.get_by_label("Role", exact=True).select_option(role)
    ui.page.get_by_role("button", name="Invite").click()
    expect(ui.page.get_by_role("heading", name=f"{email} is invited")).to_be_visible()
    return str(ui.page.locator("#accept-url").inner_text())


def _join(browser: Any, link: str) -> Any:
    """A browser of the invitee's own: opens the link, chooses a password, ends up signed in."""
    page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    page.goto(link)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Set password and sign in").click()
    expect(page.get_by_text("Your password is set and you are signed in")).to_be_visible()
    return page


def test_an_owner_invites_an_admin_and_a_viewer_and_each_sees_what_their_role_allows(
    ui: UI, browser: Any, server: Server, tenant: Tenant
) -> None:
    ui.sign_in(tenant)
    ui.page.get_by_role("link", name="Members").click()
    expect(ui.page.get_by_role("heading", name="Members", exact=True)).to_be_visible()
    admin_link = _invite(ui, "ada@example.com", "admin")
    viewer_link = _invite(ui, "vin@example.com", "viewer")
    assert admin_link.startswith(server.url + "/invitations/")

    admin = _join(browser, admin_link)
    admin.goto(server.url + "/developers")
    admin.get_by_label("Name", exact=True).fill("Grace Hopper")
    admin.get_by_label("Email", exact=True).fill("grace@example.com")
    admin.get_by_role("button", name="Add developer").click()
    expect(admin.get_by_role("link", name="Grace Hopper")).to_be_visible()
    admin.goto(server.url + "/members")
    expect(admin.get_by_role("button", name="Invite")).to_have_count(0)  # members are the owner's

    viewer = _join(browser, viewer_link)
    viewer.goto(server.url + "/developers")
    expect(viewer.get_by_role("link", name="Grace Hopper")).to_be_visible()
    expect(viewer.get_by_role("button", name="Add developer")).to_have_count(0)
    expect(viewer.get_by_role("button", name="Remove")).to_have_count(0)
    token = viewer.locator("body").get_attribute("hx-headers") or ""
    csrf = token.split('"')[3] if token.count('"') >= 4 else ""
    refused = viewer.request.post(
        server.url + "/developers",
        form={"name": "Mallory", "email": "mallory@example.com", "csrf_token": csrf},
        headers={"Accept": "text/html"},
    )
    assert refused.status == 403 and "your role viewer cannot change developers" in refused.text()

    ui.goto("/members")
    for email, role in (("ada@example.com", "admin"), ("vin@example.com", "viewer")):
        row = ui.page.locator("tr", has_text=email)
        expect(row).to_contain_text("active")
        expect(row.get_by_label(f"Role of {email}")).to_have_value(role)
