"""`orgs.auth`: the role check authenticates the caller once per request, and the route's principal reads what it
found (FastAPI would otherwise solve the bearer scheme once per dependency that needs the caller). A route with
two role checks counts the key once against its rate limit; a route without one still authenticates, with the
same answers (missing, malformed, unknown key: 401 in the one error shape)."""

from __future__ import annotations

import types
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from gitproductivity.core import ratelimit
from gitproductivity.core.db import Database
from gitproductivity.core.http import Limits, install_error_handlers
from gitproductivity.core.ratelimit import RateLimiter
from gitproductivity.orgs import service as orgs
from gitproductivity.orgs.auth import CurrentPrincipal, allow
from gitproductivity.orgs.roles import Role
from tests.clock import Clock
from tests.conftest import Tenant


@pytest.fixture
def small_app(database: Database, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    """Two routes on the real dependencies: one behind two role checks, one behind none; a burst of 3 per key
    on a clock that stands still (no refill during the test)."""
    monkeypatch.setattr(ratelimit, "time", types.SimpleNamespace(monotonic=Clock().monotonic))
    app = FastAPI()
    install_error_handlers(app)
    app.state.limits = Limits(RateLimiter(60, 3), RateLimiter(60, 3))
    router = APIRouter(dependencies=[allow("things", write=Role.ADMIN)])

    @router.get("/twice", dependencies=[allow("secrets", write=Role.ADMIN, read=Role.ADMIN)])
    async def twice(principal: CurrentPrincipal) -> dict[str, Any]:
        return {"organization_id": principal.organization_id, "role": principal.role}

    app.include_router(router)

    @app.get("/bare")
    async def bare(principal: CurrentPrincipal) -> dict[str, Any]:
        return {"organization_id": principal.organization_id}

    return TestClient(app, raise_server_exceptions=False)


def test_two_role_checks_and_the_route_authenticate_the_key_once(small_app: TestClient, tenant: Tenant) -> None:
    for _ in range(3):  # counted twice (or three times) a request, the second would be refused
        resp = small_app.get("/twice", headers=tenant.headers)
        assert resp.json() == {"organization_id": tenant.organization_id, "role": Role.OWNER}, resp.text
    refused = small_app.get("/twice", headers=tenant.headers)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"


def test_a_route_without_a_role_check_still_authenticates(small_app: TestClient, tenant: Tenant) -> None:
    missing = {
        "code": "unauthorized",
        "message": "missing API key: send `Authorization: Bearer <key>`",
        "details": None,
    }
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer"}):
        resp = small_app.get("/bare", headers=headers)
        assert resp.status_code == 401 and resp.json() == {"error": missing}, (headers, resp.text)
        assert resp.headers["www-authenticate"] == "Bearer"
    unknown = small_app.get("/bare", headers={"Authorization": "Bearer gpk_nope"})
    assert unknown.status_code == 401 and unknown.json()["error"]["message"] == "invalid or revoked API key"
    assert small_app.get("/bare", headers=tenant.headers).json() == {"organization_id": tenant.organization_id}


def test_each_role_check_refuses_a_role_below_it(small_app: TestClient, tenant: Tenant, database: Database) -> None:
    """The first check lets a viewer read; the second (secrets: admins) refuses it, in its own words."""
    with database.session() as session:
        _, raw = orgs.create_api_key(session, organization_id=tenant.organization_id, name="v", role=Role.VIEWER)
    resp = small_app.get("/twice", headers={"Authorization": f"Bearer {raw}"})
    assert resp.status_code == 403, resp.text
    error = resp.json()["error"]
    assert error["code"] == "forbidden"
    assert error["message"] == "your role viewer cannot read secrets: that needs the role admin or owner"
