"""What every UI page sends with it: the exact Content-Security-Policy (and its companions), and a session
cookie that is `Secure` exactly when the server's base URL is https (README, docs/security.md)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gitproductivity.core import settings
from gitproductivity.core.db import Database
from tests.conftest import Tenant

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'"
)


def sign_in(client: TestClient, tenant: Tenant) -> str:
    """Sign in through the form; the Set-Cookie header of the answer."""
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    form = {"email": tenant.email, "password": tenant.password, "csrf_token": token.group(1)}
    resp = client.post("/login", data=form, follow_redirects=False)
    assert resp.status_code == 303
    return resp.headers["set-cookie"]


def test_every_page_carries_the_exact_content_security_policy(client: TestClient, tenant: Tenant) -> None:
    pages = [client.get("/login")]
    sign_in(client, tenant)
    html = {"Accept": "text/html"}
    pages += [client.get(p, headers=html) for p in ("/", "/developers", "/account", "/developers/dev_0")]
    assert [p.status_code for p in pages] == [200, 200, 200, 200, 404]
    for page in pages:
        assert page.headers["content-security-policy"] == CSP, page.url
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "same-origin"


@pytest.fixture
def app_at(database: Database, tmp_path: Path) -> Iterator[Callable[[str], TestClient]]:
    """Make a server whose base URL is the one given (the session middleware reads it at start)."""
    from gitproductivity.app import create_app

    clients: list[TestClient] = []

    def make(base_url: str) -> TestClient:
        settings.configure(database_url=database.url, data_dir=tmp_path / "data", base_url=base_url)
        c = TestClient(create_app(run_workers=False), base_url=base_url, raise_server_exceptions=False)
        c.__enter__()
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.__exit__(None, None, None)


@pytest.mark.parametrize(("base_url", "secure"), [("https://gp.example.com", True), ("http://gp.example.com", False)])
def test_session_cookie_is_secure_exactly_under_an_https_base_url(
    app_at: Callable[[str], TestClient], tenant: Tenant, base_url: str, secure: bool
) -> None:
    client = app_at(base_url)
    cookie = sign_in(client, tenant)
    attributes = [a.strip().lower() for a in cookie.split(";")]
    assert attributes[0].startswith("gp_session=")
    assert ("secure" in attributes) is secure, cookie
    assert "httponly" in attributes and "samesite=lax" in attributes
