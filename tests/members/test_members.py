"""Members over the API and the pages: invitations (a one-time link, e-mailed through a real SMTP server), the
invitee choosing a password, roles, the last owner, removal, and each owner's own notices."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text, update

from gitproductivity.core import settings
from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import Database
from gitproductivity.core.errors import Conflict
from gitproductivity.notifications import service as notifications
from gitproductivity.orgs.models import User
from tests.conftest import Tenant
from tests.web.test_sessions import HTML, _token, sign_in
from tests.webhooks.conftest import Mailbox, wait_for

PASSWORD = "a long enough passphrase"


def _invite(api: TestClient, email: str, role: str) -> dict[str, Any]:
    resp = api.post("/v1/members", json={"email": email, "role": role})
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def _accept(client: TestClient, url: str, password: str = PASSWORD) -> Any:
    path = url.split("://", 1)[-1].split("/", 1)[1]
    page = client.get("/" + path)
    assert page.status_code == 200, page.text
    form = {"password": password, "confirm_password": password, "csrf_token": _token(page.text)}
    return client.post("/" + path, data=form, follow_redirects=False)


def _member(email: str, password: str = PASSWORD) -> Tenant:
    return Tenant(organization_id="", email=email, password=password, api_key="")


def test_an_invitee_sets_a_password_once_and_becomes_an_active_member(api: TestClient, client: TestClient) -> None:
    invited = _invite(api, "Ann@Example.com", "admin")
    assert {k: invited[k] for k in ("email", "role", "status")} == {
        "email": "ann@example.com",
        "role": "admin",
        "status": "invited",
    }
    assert invited["accept_url"].startswith("http://testserver/invitations/") and invited["emailed"] is False
    listed = api.get("/v1/members").json()
    assert set(listed) == {"data", "has_more", "next_cursor"}
    assert [(m["email"], m["status"]) for m in listed["data"]] == [
        ("owner@example.com", "active"),
        ("ann@example.com", "invited"),
    ]
    # Before accepting, nobody signs in with that address (there is no password yet).
    page = TestClient(client.app, raise_server_exceptions=False)
    form = {"email": "ann@example.com", "password": "", "csrf_token": _token(page.get("/login").text)}
    assert page.post("/login", data=form, follow_redirects=False).status_code == 401

    short = _accept(page, invited["accept_url"], password="short")
    assert short.status_code == 422 and "12 to 1024 characters" in short.text
    done = _accept(page, invited["accept_url"])
    assert done.status_code == 303, done.text
    assert page.get("/members", headers=HTML).status_code == 200  # signed in by accepting
    assert api.get(f"/v1/members/{invited['id']}").json()["status"] == "active"
    again = page.get("/" + invited["accept_url"].split("/", 3)[3], headers=HTML)
    assert again.status_code == 404 and "not valid" in again.text
    fresh = TestClient(client.app, raise_server_exceptions=False)
    sign_in(fresh, _member("ann@example.com"))


def test_an_expired_or_replaced_link_is_refused(api: TestClient, client: TestClient, database: Database) -> None:
    first = _invite(api, "bo@example.com", "viewer")
    second = _invite(api, "bo@example.com", "admin")  # inviting again renews the link (and the role)
    assert second["id"] == first["id"] and second["role"] == "admin"
    page = TestClient(client.app, raise_server_exceptions=False)
    assert page.get("/" + first["accept_url"].split("/", 3)[3], headers=HTML).status_code == 404
    with database.session() as session:
        session.execute(update(User).where(User.id == first["id"]).values(token_expires_at=utcnow() - timedelta(1)))
    assert page.get("/" + second["accept_url"].split("/", 3)[3], headers=HTML).status_code == 404


def test_bad_invitations_are_refused_in_words(api: TestClient, other_tenant: Tenant) -> None:
    for body, status, words in (
        ({"email": "owner@example.com", "role": "viewer"}, 409, "already a member of this organisation"),
        ({"email": other_tenant.email, "role": "viewer"}, 409, "already a member of another organisation"),
        ({"email": "x@example.com", "role": "boss"}, 422, "role"),
        ({"email": "not an address", "role": "viewer"}, 422, "email"),
    ):
        resp = api.post("/v1/members", json=body)
        assert resp.status_code == status, (body, resp.text)
        assert words in resp.text and set(resp.json()["error"]) == {"code", "message", "details"}
    assert len(api.get("/v1/members").json()["data"]) == 1


def test_the_last_owner_can_be_neither_demoted_nor_removed(api: TestClient, client: TestClient) -> None:
    me = api.get("/v1/members").json()["data"][0]
    for resp in (api.patch(f"/v1/members/{me['id']}", json={"role": "admin"}), api.delete(f"/v1/members/{me['id']}")):
        assert resp.status_code == 409 and "last owner" in resp.json()["error"]["message"], resp.text
    # An invited owner is not an owner yet: still refused.
    pending = _invite(api, "co@example.com", "owner")
    assert api.patch(f"/v1/members/{me['id']}", json={"role": "viewer"}).status_code == 409
    _accept(TestClient(client.app, raise_server_exceptions=False), pending["accept_url"])
    # Two active owners: one may step down, and then the other is the last again.
    assert api.patch(f"/v1/members/{me['id']}", json={"role": "admin"}).json()["role"] == "admin"
    # The key was made by the demoted member: it now acts as an admin, at once.
    refused = api.delete(f"/v1/members/{pending['id']}")
    assert refused.status_code == 403 and refused.json()["error"]["message"].startswith("your role admin cannot")


def test_removing_a_member_ends_their_sessions_and_revokes_their_keys(api: TestClient, client: TestClient) -> None:
    invited = _invite(api, "dee@example.com", "owner")
    browser = TestClient(client.app, raise_server_exceptions=False)
    _accept(browser, invited["accept_url"])
    key = client.post(
        "/v1/api-keys", json={"name": "dee's", "role": "admin"}, headers=_session_key(api, browser, invited)
    )
    assert key.status_code == 201, key.text
    headers = {"Authorization": f"Bearer {key.json()['key']}"}
    assert client.get("/v1/developers", headers=headers).status_code == 200
    assert api.delete(f"/v1/members/{invited['id']}").json()["email"] == "dee@example.com"
    assert client.get("/v1/developers", headers=headers).status_code == 401
    assert browser.get("/members", headers=HTML, follow_redirects=False).status_code == 303  # signed out
    assert [m["email"] for m in api.get("/v1/members").json()["data"]] == ["owner@example.com"]


def _session_key(api: TestClient, browser: TestClient, member: dict[str, Any]) -> dict[str, str]:
    """An owner key made for `member` (the API takes keys, not cookies): the owner makes it, then it is moved to
    the member in the database as if they had made it themselves."""
    from gitproductivity.core.db import get_database
    from gitproductivity.orgs.models import ApiKey

    made = api.post("/v1/api-keys", json={"name": "member's own", "role": "owner"}).json()
    with get_database().session() as session:
        session.execute(update(ApiKey).where(ApiKey.id == made["id"]).values(user_id=member["id"]))
    return {"Authorization": f"Bearer {made['key']}"}


def test_the_invitation_is_emailed_and_every_owner_gets_failure_notices_with_their_own_read_state(
    api: TestClient,
    client: TestClient,
    tenant: Tenant,
    database: Database,
    database_url: str,
    tmp_path: Path,
    smtp: tuple[Mailbox, int],
) -> None:
    box, port = smtp
    settings.configure(database_url=database_url, data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=port)
    invited = _invite(api, "eve@example.com", "owner")
    assert invited["emailed"] is True
    [mail] = wait_for(lambda: box.messages, what="the invitation e-mail")
    assert mail["to"] == ["eve@example.com"] and invited["accept_url"] in mail["data"].replace("=\r\n", "")
    _accept(TestClient(client.app, raise_server_exceptions=False), invited["accept_url"])
    viewer = _invite(api, "val@example.com", "viewer")
    _accept(TestClient(client.app, raise_server_exceptions=False), viewer["accept_url"])

    with database.session() as session:
        note_id = notifications.create(
            session, organization_id=tenant.organization_id, kind="webhook.disabled", subject="Disabled", body="b"
        ).id
    notice = wait_for(lambda: [m for m in box.messages if "Disabled" in m["data"]], what="the notice")
    assert sorted(notice[0]["to"]) == ["eve@example.com", "owner@example.com"]  # owners only, each of them

    # The owner reads it; eve still has it unread.
    assert api.post(f"/v1/notifications/{note_id}/read").json()["read_at"] is not None
    assert api.get("/v1/notifications", params={"unread": True}).json()["data"] == []
    eve = _session_key(api, TestClient(client.app), invited)
    unread = client.get("/v1/notifications", params={"unread": True}, headers=eve).json()["data"]
    assert [n["id"] for n in unread] == [note_id] and unread[0]["read_at"] is None


def test_a_member_changes_their_password_through_the_api(api: TestClient, client: TestClient, tenant: Tenant) -> None:
    wrong = api.post("/v1/me/password", json={"current_password": "nope", "new_password": PASSWORD})
    assert wrong.status_code == 422 and wrong.json()["error"]["details"][0]["field"] == "current_password"
    short = api.post("/v1/me/password", json={"current_password": tenant.password, "new_password": "short"})
    assert short.status_code == 422 and "12 to 1024" in short.text
    browser = TestClient(client.app, raise_server_exceptions=False)
    sign_in(browser, tenant)
    done = api.post("/v1/me/password", json={"current_password": tenant.password, "new_password": PASSWORD})
    assert done.status_code == 200 and done.json() == {"sessions_ended": 1}
    assert browser.get("/members", headers=HTML, follow_redirects=False).status_code == 303
    sign_in(TestClient(client.app, raise_server_exceptions=False), tenant, password=PASSWORD)


def test_a_viewer_s_pages_refuse_their_forms_and_hide_the_signing_secret(
    api: TestClient, client: TestClient, tenant: Tenant
) -> None:
    hook = api.post("/v1/webhooks", json={"url": "http://hooks.invalid:9/x", "events": ["*"]}).json()
    viewer = _invite(api, "vic@example.com", "viewer")
    browser = TestClient(client.app, raise_server_exceptions=False)
    _accept(browser, viewer["accept_url"])
    csrf = _token(browser.get("/members", headers=HTML).text)
    page = browser.get(f"/settings/webhooks/{hook['id']}", headers=HTML)
    assert page.status_code == 200 and hook["secret"] not in page.text and "Rotate secret" not in page.text
    for url, form in (
        ("/developers", {"name": "Mallory", "email": "mallory@example.com"}),
        (f"/settings/webhooks/{hook['id']}/rotate", {}),
        ("/members", {"email": "x@example.com", "role": "owner"}),
    ):
        resp = browser.post(url, data={**form, "csrf_token": csrf}, headers=HTML, follow_redirects=False)
        assert resp.status_code == 403 and "your role viewer cannot" in resp.text, (url, resp.status_code)
    assert api.get("/v1/developers").json()["data"] == []
    assert len(api.get("/v1/members").json()["data"]) == 2
    # Their own account is theirs to change.
    changed = browser.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": PASSWORD + "!",
            "confirm_password": PASSWORD + "!",
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert changed.status_code == 303


def test_an_owner_invites_changes_a_role_and_removes_on_the_members_page(
    api: TestClient, client: TestClient, tenant: Tenant
) -> None:
    browser = TestClient(client.app, raise_server_exceptions=False)
    csrf = sign_in(browser, tenant)
    bad = browser.post("/members", data={"email": "nope", "role": "admin", "csrf_token": csrf}, headers=HTML)
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text
    page = browser.post("/members", data={"email": "fay@example.com", "role": "admin", "csrf_token": csrf})
    assert page.status_code == 201 and "fay@example.com is invited" in page.text
    link = re.search(r'<code id="accept-url">([^<]+)</code>', page.text)
    assert link is not None and link.group(1).startswith("http://testserver/invitations/")
    fay = next(m for m in api.get("/v1/members").json()["data"] if m["email"] == "fay@example.com")
    moved = browser.post(f"/members/{fay['id']}/role", data={"role": "viewer", "csrf_token": csrf})
    assert moved.status_code == 200 and "fay@example.com is now viewer" in moved.text
    assert api.get(f"/v1/members/{fay['id']}").json()["role"] == "viewer"
    me = next(m for m in api.get("/v1/members").json()["data"] if m["email"] == tenant.email)
    last = browser.post(f"/members/{me['id']}/remove", data={"csrf_token": csrf}, headers=HTML)
    assert last.status_code == 409 and "last owner" in last.text
    gone = browser.post(f"/members/{fay['id']}/remove", data={"csrf_token": csrf})
    assert gone.status_code == 200 and "fay@example.com was removed" in gone.text
    assert [m["email"] for m in api.get("/v1/members").json()["data"]] == [tenant.email]


def test_a_viewer_sees_no_forms_they_may_not_send(api: TestClient, client: TestClient, tenant: Tenant) -> None:
    dev = api.post("/v1/developers", json={"name": "Dev", "email": "dev@example.com"}).json()
    team = api.post("/v1/teams", json={"name": "Core"}).json()
    assert api.put(f"/v1/teams/{team['id']}/developers/{dev['id']}").status_code == 204
    viewer = _invite(api, "wes@example.com", "viewer")
    browser = TestClient(client.app, raise_server_exceptions=False)
    _accept(browser, viewer["accept_url"])
    owner = TestClient(client.app, raise_server_exceptions=False)
    sign_in(owner, tenant)
    for url, hidden in (
        ("/developers", ('method="post" action="/developers"', f"/developers/{dev['id']}/remove")),
        (f"/developers/{dev['id']}", ("/aliases", "Merge a duplicate")),
        ("/repositories", ('method="post" action="/repositories"',)),
        ("/settings/webhooks", ("/settings/webhooks/new",)),
        ("/members", ('method="post" action="/members"', "/remove", "/role")),
        ("/teams", ('method="post" action="/teams"',)),
        (f"/teams/{team['id']}", ('/developers" novalidate', "/rename", "/delete", "Take out")),
    ):
        page = browser.get(url, headers=HTML)
        assert page.status_code == 200, url
        assert [h for h in hidden if h in page.text] == [], url
        assert [h for h in hidden if h not in owner.get(url, headers=HTML).text] == [], url  # the owner sees them


@pytest.mark.parametrize("backend", ["postgresql"])  # SQLite has one writer at a time: no two demotions overlap
def test_two_owners_demoting_each_other_at_once_leave_one_owner(
    api: TestClient, client: TestClient, database: Database, tenant: Tenant
) -> None:
    from gitproductivity.members import service as members

    other = _invite(api, "zoe@example.com", "owner")
    _accept(TestClient(client.app, raise_server_exceptions=False), other["accept_url"])
    me = next(m for m in api.get("/v1/members").json()["data"] if m["email"] == tenant.email)
    org = tenant.organization_id
    with ThreadPoolExecutor(1) as pool:
        with database.session() as session:
            members.update_role(session, organization_id=org, member_id=me["id"], role="viewer")  # not committed yet
            second = pool.submit(_demote, database, org, other["id"])
            wait_for(lambda: _waiting_on_a_lock(database), what="the second demotion to wait for the first")
            assert not second.done()
        # The first demotion has committed; the second then finds one owner left (zoe herself) and refuses.
        second.exception(timeout=30)
    assert isinstance(second.exception(), Conflict) and "last owner" in str(second.exception())
    roles = {
        m["email"]: m["role"] for m in client.get("/v1/members", headers=_owner_key(database, other)).json()["data"]
    }
    assert roles == {tenant.email: "viewer", "zoe@example.com": "owner"}


def _demote(database: Database, org: str, member_id: str) -> None:
    from gitproductivity.members import service as members

    with database.session() as session:
        members.update_role(session, organization_id=org, member_id=member_id, role="viewer")


def _waiting_on_a_lock(database: Database) -> bool:
    with database.engine.connect() as conn:
        return bool(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        )


def _owner_key(database: Database, member: dict[str, Any]) -> dict[str, str]:
    from gitproductivity.orgs import service as orgs

    with database.session() as session:
        user = session.get(User, member["id"])
        assert user is not None
        _key, raw = orgs.create_api_key(session, organization_id=user.organization_id, name="zoe", user_id=user.id)
    return {"Authorization": f"Bearer {raw}"}


def test_password_guesses_through_the_api_are_limited_per_member(
    api: TestClient, tenant: Tenant, configured: Any, database_url: str, tmp_path: Path
) -> None:
    configured(
        database_url=database_url, data_dir=tmp_path, sign_in_rate_limit_per_minute=1, sign_in_rate_limit_burst=2
    )
    from gitproductivity.app import create_app

    with TestClient(create_app(run_workers=False), headers=tenant.headers) as fresh:
        guesses = [
            fresh.post("/v1/me/password", json={"current_password": f"guess {n}", "new_password": PASSWORD})
            for n in range(3)
        ]
        assert [g.status_code for g in guesses] == [422, 422, 429], [g.text for g in guesses]
        assert guesses[2].headers["Retry-After"] and guesses[2].json()["error"]["code"] == "rate_limited"
        right = fresh.post("/v1/me/password", json={"current_password": tenant.password, "new_password": PASSWORD})
        assert right.status_code == 429  # even the right one, until the bucket refills
