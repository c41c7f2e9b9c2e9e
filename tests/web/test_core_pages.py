"""Sign-in, developers and repositories pages, CSRF and organisation scoping, in real Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from gitproductivity.core.db import Database
from gitproductivity.developers import service
from gitproductivity.events.models import Event
from tests.conftest import Tenant
from tests.web.conftest import UI

pytestmark = pytest.mark.slow  # a real `gitproductivity serve` driven by Chromium


def test_sign_in_failure_then_success_and_sign_out(ui: UI, tenant: Tenant) -> None:
    ui.goto("/developers")
    expect(ui.page).to_have_url(ui.base + "/login?next=/developers")  # not signed in: sent to sign in
    ui.page.get_by_label("Email").fill(tenant.email)
    ui.page.get_by_label("Password").fill("not-the-password")
    ui.expect_status(401, "/login")  # the refused sign-in page
    ui.page.get_by_role("button", name="Sign in").click()
    expect(ui.page.get_by_role("alert")).to_contain_text("do not match an account")
    expect(ui.page.get_by_label("Email")).to_have_value(tenant.email)  # kept, so only the password is retyped
    assert not [c for c in ui.page.context.cookies() if c["name"] == "gp_session" and "user_id" in c["value"]]

    ui.page.get_by_label("Password").fill(tenant.password)
    ui.page.get_by_role("button", name="Sign in").click()
    expect(ui.page).to_have_url(ui.base + "/developers")  # back where they were going
    expect(ui.page.get_by_role("heading", name="Developers", exact=True)).to_be_visible()
    cookie = next(c for c in ui.page.context.cookies() if c["name"] == "gp_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    ui.sign_out()
    expect(ui.page).to_have_url(ui.base + "/login")
    ui.goto("/repositories")
    expect(ui.page).to_have_url(ui.base + "/login?next=/repositories")


def test_add_and_remove_developers(ui: UI, tenant: Tenant, database: Database, tmp_path: Path) -> None:
    ui.sign_in(tenant)
    ui.goto("/developers")
    expect(ui.page.get_by_text("No developers yet.")).to_be_visible()  # the empty state says what to do

    ui.page.get_by_label("Name").fill("Jane Doe")
    ui.page.get_by_label("Email", exact=True).fill("jane-at-example.com")
    ui.expect_status(422, "/developers")  # the form again, with the error next to its field
    ui.page.get_by_role("button", name="Add developer").click()
    expect(ui.page.locator("#e-email")).to_contain_text("must have an @-sign")  # the error next to its field
    expect(ui.page.get_by_label("Name")).to_have_value("Jane Doe")

    ui.page.get_by_label("Email", exact=True).fill("jane@example.com")
    ui.page.get_by_label("Other emails (optional)").fill("jane@users.noreply.example.org, jd@example.com")
    ui.page.get_by_role("button", name="Add developer").click()
    expect(ui.page.get_by_role("status")).to_contain_text("Added Jane Doe")
    row = ui.page.get_by_role("row", name="Jane Doe")
    expect(row).to_contain_text("jd@example.com")
    ui.screenshot("developers-add", tmp_path)

    # The same address again: the service's conflict is shown in words, next to the email field.
    ui.page.get_by_label("Name").fill("Jane Again")
    ui.page.get_by_label("Email", exact=True).fill("JD@example.com")
    ui.expect_status(409, "/developers")
    ui.page.get_by_role("button", name="Add developer").click()
    expect(ui.page.locator("#e-email")).to_contain_text("already belongs to developer")

    with database.session() as session:
        (dev,) = service.list_(session, organization_id=tenant.organization_id)
        assert sorted(dev.aliases) == ["jane@users.noreply.example.org", "jd@example.com"]
        types = [e.type for e in session.query(Event).filter_by(organization_id=tenant.organization_id)]
    assert types == ["developer.added"]

    row.get_by_role("button", name="Remove").click()  # confirmed by the dialog handler
    expect(ui.page.get_by_role("status")).to_contain_text("Removed Jane Doe")
    expect(ui.page.get_by_role("row", name="Jane Doe")).to_have_count(0)
    with database.session() as session:
        assert service.get(session, organization_id=tenant.organization_id, developer_id=dev.id).removed_at


def test_remove_can_be_cancelled(ui: UI, tenant: Tenant, database: Database) -> None:
    with database.session() as session:
        service.create(session, organization_id=tenant.organization_id, name="Sam Stays", email="sam@example.com")
    ui.sign_in(tenant)
    ui.goto("/developers")
    ui.page.remove_listener("dialog", ui.accept_dialogs)
    ui.page.once("dialog", lambda d: d.dismiss())
    ui.page.get_by_role("row", name="Sam Stays").get_by_role("button", name="Remove").click()
    expect(ui.page.get_by_role("row", name="Sam Stays")).to_be_visible()
    with database.session() as session:
        assert service.find_by_email(session, organization_id=tenant.organization_id, email="sam@example.com")


def test_connect_and_disconnect_repository(ui: UI, tenant: Tenant, git_repo: Path, tmp_path: Path) -> None:
    ui.sign_in(tenant)
    ui.goto("/repositories")
    expect(ui.page.get_by_text("No repositories connected.")).to_be_visible()

    ui.page.get_by_label("Git URL or local path").fill("ext::sh -c touch% /tmp/pwned")
    ui.expect_status(422, "/repositories")
    ui.page.get_by_role("button", name="Connect").click()
    expect(ui.page.locator("#e-url")).to_contain_text("not allowed")

    ui.page.get_by_label("Git URL or local path").fill(str(git_repo))
    ui.page.get_by_label("Name (optional)").fill("sample")
    ui.page.get_by_role("button", name="Connect").click()
    expect(ui.page.get_by_role("status")).to_contain_text("Connected sample")
    row = ui.page.get_by_role("row", name="sample")
    expect(row).to_contain_text(str(git_repo))
    ui.screenshot("repositories-connect", tmp_path)

    row.get_by_role("button", name="Disconnect").click()
    expect(ui.page.get_by_role("status")).to_contain_text("Disconnected sample")
    expect(ui.page.get_by_role("heading", name="Disconnected")).to_be_visible()
    expect(ui.page.get_by_text("No repositories connected.")).to_be_visible()


def test_forms_without_csrf_token_are_refused(ui: UI, tenant: Tenant, database: Database) -> None:
    ui.sign_in(tenant)
    ui.goto("/developers")
    # A form posted by another site: the browser sends the session cookie, but no token.
    ui.expect_status(403, "/developers")
    ui.page.evaluate(
        """() => {
            const f = document.createElement('form');
            f.method = 'post'; f.action = '/developers';
            for (const [k, v] of [['name', 'Mallory'], ['email', 'mallory@example.com']]) {
                const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i);
            }
            document.body.appendChild(f); f.submit();
        }"""
    )
    expect(ui.page.get_by_role("alert")).to_contain_text("did not come from this site")
    # A wrong token is refused the same way; the right one (as htmx sends it, in the header) works.
    wrong = ui.page.request.post(
        ui.base + "/developers", form={"name": "M", "email": "m@example.com", "csrf_token": "x"}
    )
    assert wrong.status == 403
    ui.goto("/developers")
    token = ui.page.locator("input[name=csrf_token]").first.input_value()
    ok = ui.page.request.post(
        ui.base + "/developers", form={"name": "Ok", "email": "ok@example.com"}, headers={"X-CSRF-Token": token}
    )
    assert ok.status == 200
    with database.session() as session:
        emails = [d.email for d in service.list_(session, organization_id=tenant.organization_id)]
    assert emails == ["ok@example.com"]
    # The session cookie never authenticates the API: /v1 still wants an API key.
    assert ui.page.request.get(ui.base + "/v1/developers").status == 401
    assert ui.page.request.post(ui.base + "/v1/developers", data={"name": "x", "email": "x@example.com"}).status == 401


def test_pages_are_scoped_to_the_users_organisation(
    ui: UI, tenant: Tenant, other_tenant: Tenant, database: Database
) -> None:
    with database.session() as session:
        theirs = service.create(
            session, organization_id=other_tenant.organization_id, name="Their Dev", email="dev@other.example"
        )
        service.create(session, organization_id=tenant.organization_id, name="Our Dev", email="dev@ours.example")
    ui.sign_in(tenant)
    ui.goto("/developers")
    expect(ui.page.get_by_role("row", name="Our Dev")).to_be_visible()
    expect(ui.page.get_by_text("Their Dev")).to_have_count(0)
    # Acting on another organisation's id is "not found" (never "forbidden") and changes nothing.
    token = ui.page.locator("input[name=csrf_token]").first.input_value()
    resp = ui.page.request.post(ui.base + f"/developers/{theirs.id}/remove", form={"csrf_token": token})
    assert resp.status == 404
    assert "not found" in resp.text()
    with database.session() as session:
        assert (
            service.get(session, organization_id=other_tenant.organization_id, developer_id=theirs.id).removed_at
            is None
        )


def test_phone_width_and_accessible_labels(ui: UI, tenant: Tenant, tmp_path: Path) -> None:
    ui.page.set_viewport_size({"width": 390, "height": 844})
    ui.sign_in(tenant)
    ui.goto("/developers")
    # No horizontal scrolling of the page itself at phone width.
    assert ui.page.evaluate("document.documentElement.scrollWidth") <= 390
    for field in ("Name", "Email", "Other emails (optional)"):
        expect(ui.page.get_by_label(field, exact=True)).to_be_visible()
    ui.screenshot("developers-phone", tmp_path)
    for path in ("/repositories", "/settings/webhooks/new", "/notifications", "/dashboard"):
        ui.goto(path)
        assert ui.page.evaluate("document.documentElement.scrollWidth") <= 390, path
