"""Error pages (404, 403, 422, 500) in words, with the header and the navigation of every other page."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.testclient import TestClient

from gitproductivity.app import create_app
from gitproductivity.core.db import Database
from tests.conftest import Tenant
from tests.web.test_sessions import HTML, sign_in

NAV = 'aria-label="Main"'


def test_every_error_page_keeps_the_header_and_says_what_happened_in_words(database: Database, tenant: Tenant) -> None:
    app = create_app(run_workers=False)
    broken = APIRouter()

    @broken.get("/broken-page")
    def _broken() -> None:
        raise RuntimeError("internal detail that must not be shown")

    app.include_router(broken)
    browser = TestClient(app, raise_server_exceptions=False)
    sign_in(browser, tenant)
    pages = {
        403: browser.post("/settings/webhooks", data={"url": "x"}, headers=HTML),  # no CSRF token
        404: browser.get("/settings/webhooks/wh_nothing", headers=HTML),
        422: browser.get("/notifications?unread=maybe", headers=HTML),
        500: browser.get("/broken-page", headers=HTML),
    }
    for status, page in pages.items():
        assert page.status_code == status, (status, page.text)
        assert NAV in page.text and "Sign out" in page.text and tenant.email in page.text, status
        assert "Error" not in page.text.split("<main", 1)[1], status  # no exception class names
    assert "This form has expired" in pages[403].text
    assert "nothing at this address" in pages[404].text and "wh_nothing" not in pages[404].text
    assert "Unread: must be true or false" in pages[422].text
    assert "Something went wrong on our side" in pages[500].text
    assert "internal detail" not in pages[500].text

    # Signed out: the same pages, without a header that would name nobody.
    anonymous = TestClient(app, raise_server_exceptions=False)
    page = anonymous.get("/broken-page", headers=HTML)
    assert page.status_code == 500 and NAV not in page.text
