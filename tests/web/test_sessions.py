"""Finding 7 of issue 12, at the HTTP level: sessions live on the server, so sign-out and a password change end
them for every copy of the cookie at once, for pages and for form posts; expiry (absolute and idle) is the
server's. The same in a real browser: tests/web/test_sessions_browser.py."""

from __future__ import annotations

import base64
import json
import re
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from gitproductivity.app import create_app
from gitproductivity.core import settings
from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import Database
from gitproductivity.orgs.models import UserSession
from gitproductivity.orgs.security import hash_api_key
from tests.conftest import Tenant

COOKIE = "gp_session"
HTML = {"Accept": "text/html"}


def _token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def sign_in(client: TestClient, tenant: Tenant, password: str | None = None) -> str:
    form = {
        "email": tenant.email,
        "password": password or tenant.password,
        "csrf_token": _token(client.get("/login").text),
    }
    resp = client.post("/login", data=form, follow_redirects=False)
    assert resp.status_code == 303, resp.text
    return _token(client.get("/developers").text)


def use_cookie(client: TestClient, cookie: str) -> None:
    client.cookies.clear()
    client.cookies.set(COOKIE, cookie)


def assert_signed_out(client: TestClient, csrf: str, tenant: Tenant) -> None:
    """Pages send to sign-in, and a form post (with the cookie's own valid CSRF token) changes nothing."""
    page = client.get("/developers", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/developers"
    form = {"name": "Mallory", "email": "mallory@example.com", "csrf_token": csrf}
    post = client.post("/developers", data=form, headers=HTML, follow_redirects=False)
    assert post.status_code == 303 and post.headers["location"].startswith("/login")
    assert client.get("/v1/developers", headers=tenant.headers).json()["data"] == []
    # The sign-in page is shown (no redirect loop back to a page that refuses the cookie).
    assert client.get("/login", follow_redirects=False).status_code == 200


def test_a_cookie_copied_before_sign_out_is_worthless_after_it(client: TestClient, tenant: Tenant) -> None:
    csrf = sign_in(client, tenant)
    copied = client.cookies[COOKIE]
    assert client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    use_cookie(client, copied)
    assert_signed_out(client, csrf, tenant)


def test_the_cookie_carries_a_random_id_and_the_server_keeps_only_its_hash(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    sign_in(client, tenant)
    first = client.cookies[COOKIE]
    sign_in(client, tenant)  # signing in again in the same browser replaces its session
    with database.session() as session:
        assert len(list(session.scalars(select(UserSession)))) == 1
    client.cookies.clear()
    sign_in(client, tenant)  # another browser: a second, different session
    other = client.cookies[COOKIE]
    use_cookie(client, first)
    assert client.get("/developers", follow_redirects=False).status_code == 303  # the replaced one ended
    use_cookie(client, other)
    with database.session() as session:
        rows = list(session.scalars(select(UserSession)))
    assert len(rows) == 2 and rows[0].id_hash != rows[1].id_hash
    assert all(len(r.id_hash) == 64 for r in rows)
    payload = json.loads(base64.b64decode(client.cookies[COOKIE].split(".")[0] + "=="))
    assert set(payload) >= {"sid", "csrf"} and "user_id" not in payload
    assert hash_api_key(payload["sid"]) in {r.id_hash for r in rows}


def test_a_password_change_ends_every_session_but_the_one_that_made_it(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    other_csrf = sign_in(client, tenant)
    elsewhere = client.cookies[COOKIE]  # another browser, or a thief's copy
    csrf = sign_in(client, tenant)
    before = client.cookies[COOKIE]
    new_password = "a brand new passphrase"
    form = {
        "current_password": tenant.password,
        "new_password": new_password,
        "confirm_password": new_password,
        "csrf_token": csrf,
    }
    changed = client.post("/account/password", data=form, headers=HTML, follow_redirects=False)
    assert changed.status_code == 303, changed.text
    after = client.cookies[COOKIE]
    page = client.get("/account", headers=HTML)
    assert page.status_code == 200 and "Every other session was signed out" in page.text
    with database.session() as session:
        assert len(list(session.scalars(select(UserSession)))) == 1

    for cookie, token in ((elsewhere, other_csrf), (before, csrf)):
        use_cookie(client, cookie)
        assert_signed_out(client, token, tenant)

    use_cookie(client, after)
    assert client.get("/developers", follow_redirects=False).status_code == 200
    client.cookies.clear()
    wrong = {"email": tenant.email, "password": tenant.password, "csrf_token": _token(client.get("/login").text)}
    assert client.post("/login", data=wrong, follow_redirects=False).status_code == 401
    sign_in(client, tenant, password=new_password)


def test_a_password_change_is_refused_in_words_and_changes_nothing(client: TestClient, tenant: Tenant) -> None:
    csrf = sign_in(client, tenant)
    cases = [
        ({"current_password": "wrong", "new_password": "long enough passphrase"}, "not your current password"),
        ({"current_password": tenant.password, "new_password": "short"}, "Use 12 to 1024 characters"),
        ({"current_password": tenant.password, "new_password": tenant.password}, "different from the current"),
        ({"current_password": tenant.password, "new_password": "x" * 2000}, "Use 12 to 1024 characters"),
    ]
    for fields, message in cases:
        form = {**fields, "confirm_password": fields["new_password"], "csrf_token": csrf}
        resp = client.post("/account/password", data=form, headers=HTML)
        assert resp.status_code == 422 and message in resp.text, (fields, resp.text[:300])
    form = {
        "current_password": tenant.password,
        "new_password": "long enough passphrase",
        "confirm_password": "another passphrase!!",
        "csrf_token": csrf,
    }
    resp = client.post("/account/password", data=form, headers=HTML)
    assert resp.status_code == 422 and "Type the same new password twice" in resp.text
    assert client.get("/developers", follow_redirects=False).status_code == 200  # still signed in
    client.cookies.clear()
    sign_in(client, tenant)  # the old password still works


def test_expiry_is_enforced_by_the_server_absolute_and_idle(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    csrf = sign_in(client, tenant)
    cookie = client.cookies[COOKIE]
    with database.session() as session:
        session.execute(update(UserSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert_signed_out(client, csrf, tenant)
    with database.session() as session:
        assert list(session.scalars(select(UserSession))) == []  # an expired session is deleted when seen

    csrf = sign_in(client, tenant)
    cookie = client.cookies[COOKIE]
    with database.session() as session:  # idle for longer than GITPRODUCTIVITY_SESSION_IDLE_TIMEOUT (3 days)
        session.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(days=3, seconds=1)))
    use_cookie(client, cookie)
    assert_signed_out(client, csrf, tenant)

    csrf = sign_in(client, tenant)
    with database.session() as session:  # active two minutes ago: not idle, and the visit is remembered
        session.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=2)))
    assert client.get("/developers", follow_redirects=False).status_code == 200
    with database.session() as session:
        [row] = list(session.scalars(select(UserSession)))
        assert utcnow() - row.last_seen_at < timedelta(seconds=30)


def test_signing_in_deletes_sessions_that_ran_out(client: TestClient, tenant: Tenant, database: Database) -> None:
    sign_in(client, tenant)
    with database.session() as session:
        session.execute(update(UserSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    client.cookies.clear()
    sign_in(client, tenant)
    with database.session() as session:
        assert len(list(session.scalars(select(UserSession)))) == 1


def test_wrong_current_passwords_count_as_failed_sign_ins(
    database: Database, database_url: str, tmp_path: Path, tenant: Tenant
) -> None:
    """A stolen session cannot be used to guess the password at leisure through the Account page."""
    settings.configure(
        database_url=database_url,
        data_dir=tmp_path / "data",
        sign_in_rate_limit_per_minute=1,
        sign_in_rate_limit_burst=2,
    )
    with TestClient(create_app(run_workers=False), raise_server_exceptions=False) as client:
        csrf = sign_in(client, tenant)
        for guess in ("guess-1", "guess-2"):
            form = {"current_password": guess, "new_password": "long enough passphrase", "csrf_token": csrf}
            resp = client.post("/account/password", data={**form, "confirm_password": form["new_password"]})
            assert resp.status_code == 422
        form = {"current_password": tenant.password, "new_password": "long enough passphrase", "csrf_token": csrf}
        blocked = client.post("/account/password", data={**form, "confirm_password": form["new_password"]})
        assert blocked.status_code == 429 and "Too many wrong passwords" in blocked.text
        assert 1 <= int(blocked.headers["Retry-After"]) <= 60
