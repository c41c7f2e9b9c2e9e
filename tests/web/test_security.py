"""The session key and the sign-in redirect, without a browser."""

from __future__ import annotations

import re
import stat
from pathlib import Path

from fastapi.testclient import TestClient

from gitproductivity.core import settings
from gitproductivity.web.security import secret_key
from gitproductivity.web.views import _safe_next
from tests.conftest import Tenant


def test_session_key_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    settings.configure(data_dir=tmp_path / "data")
    try:
        first = secret_key()
        path = tmp_path / "data" / "secret_key"
        assert len(first) >= 60
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert secret_key() == first  # a restart keeps every signed-in user signed in
        settings.configure(data_dir=tmp_path / "data", secret_key="from-the-environment")
        assert secret_key() == "from-the-environment"
    finally:
        settings.configure()


def test_sign_in_only_redirects_within_the_site() -> None:
    assert _safe_next("/repositories?x=1") == "/repositories?x=1"
    for hostile in ("https://evil.example/", "//evil.example/", "/\\evil.example", "", None, "javascript:alert(1)"):
        assert _safe_next(hostile) == "/"


def test_sign_in_cookie_is_signed(client: TestClient, tenant: Tenant) -> None:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    form = {"email": tenant.email, "password": tenant.password, "csrf_token": token.group(1)}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
    assert client.get("/developers", follow_redirects=False).status_code == 200
    # Tampering with the signed cookie signs the user out instead of trusting it.
    cookie = client.cookies["gp_session"]
    client.cookies.clear()
    client.cookies.set("gp_session", cookie[:-3] + ("AAA" if not cookie.endswith("AAA") else "BBB"))
    resp = client.get("/developers", follow_redirects=False)
    assert resp.status_code == 303
    assert resp.headers["location"] == "/login?next=/developers"


def test_nul_characters_are_refused_in_words_not_a_server_error(client: TestClient, tenant: Tenant) -> None:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    form = {"email": tenant.email, "password": tenant.password, "csrf_token": token.group(1)}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
    html = {"Accept": "text/html"}
    fresh = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/developers").text)
    assert fresh is not None
    token = fresh
    bad = client.post(
        "/developers", data={"name": "x\x00y", "email": "n@example.com", "csrf_token": token.group(1)}, headers=html
    )
    assert bad.status_code == 422
    assert "NUL" in bad.text and "Traceback" not in bad.text
    assert client.get("/developers?after=%00", headers=html).status_code == 422
    assert client.post("/developers/a%00b/remove", data={"csrf_token": token.group(1)}, headers=html).status_code == 422
    assert "n@example.com" not in client.get("/developers").text
