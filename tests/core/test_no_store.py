"""From finding 13 of issue 12: responses that carry secrets must not be kept by browsers, proxies or CDNs.

By class: every response but the static files carries `Cache-Control: no-store`, so a route added tomorrow
cannot forget it. The walk below covers every operation of the OpenAPI document and every page, whatever they
answer; the secret-carrying ones are also checked on their real 2xx answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, cast

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from gitproductivity.core import settings
from tests.conftest import Tenant
from tests.webhooks.conftest import Receiver


@pytest.fixture
def receiver(database: Any, database_url: str) -> Iterator[Receiver]:
    settings.configure(database_url=database_url, webhook_allowed_networks="127.0.0.0/8", webhook_timeout=2.0)
    r = Receiver()
    r.start()
    yield r
    r.stop()


def _routes(routes: Any) -> Iterator[APIRoute]:
    """Every route, also those of included routers (FastAPI keeps those inside the router that was included)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _routes(route.original_router.routes)


def _no_store(resp: Any) -> bool:
    return "no-store" in resp.headers.get("cache-control", "")


def test_every_api_operation_answers_no_store(api: TestClient) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    assert _no_store(api.get("/openapi.json"))
    seen = 0
    for path, operations in paths.items():
        url = re.sub(r"\{[^}]+\}", "zz_1", path)
        for method in operations:
            if method not in ("get", "post", "patch", "put", "delete"):
                continue
            kwargs: dict[str, Any] = {"json": {}} if method in ("post", "patch", "put") else {}
            resp = api.request(method.upper(), url, **kwargs)
            assert resp.status_code < 500, (method, url, resp.text)
            assert _no_store(resp), (method, url, resp.status_code, dict(resp.headers))
            seen += 1
    assert seen >= 30  # the walk really walked


def test_every_page_answers_no_store_and_static_files_may_be_cached(client: TestClient, tenant: Tenant) -> None:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    form = {"email": tenant.email, "password": tenant.password, "csrf_token": token.group(1)}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
    pages = [
        r.path
        for r in _routes(cast(FastAPI, client.app).routes)
        if not r.include_in_schema and "GET" in (r.methods or ())
    ]
    assert len(pages) >= 8
    for path in pages:
        resp = client.get(re.sub(r"\{[^}]+\}", "zz_1", path), headers={"Accept": "text/html"}, follow_redirects=False)
        assert _no_store(resp), (path, resp.status_code)
    static = client.get("/static/app.css")
    assert static.status_code == 200 and not _no_store(static)


def test_the_secret_carrying_answers_are_no_store(api: TestClient, receiver: Receiver) -> None:
    key = api.post("/v1/api-keys", json={"name": "ci"})
    assert key.status_code == 201 and key.json()["key"].startswith("gpk_")
    assert _no_store(key)
    created = api.post("/v1/webhooks", json={"url": receiver.url("/ok"), "events": ["*"]})
    assert created.status_code == 201 and created.json()["secret"].startswith("whsec_")
    assert _no_store(created)
    hook = created.json()["id"]
    got = api.get(f"/v1/webhooks/{hook}")
    assert got.status_code == 200 and got.json()["secret"] and _no_store(got)
    rotated = api.post(f"/v1/webhooks/{hook}/rotate-secret", json={})
    assert rotated.status_code == 200 and rotated.json()["secret"] != got.json()["secret"] and _no_store(rotated)
