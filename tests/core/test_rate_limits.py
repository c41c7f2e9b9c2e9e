"""Per-key rate limits (429 with Retry-After, in the one error shape) and the failed sign-in limit per address."""

from __future__ import annotations

import re
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gitproductivity.app import create_app
from gitproductivity.core import ratelimit, settings
from gitproductivity.core.db import Database
from gitproductivity.core.ratelimit import RateLimiter
from tests.clock import Clock
from tests.conftest import Tenant


def _app_client(database_url: str, tmp_path: Path, **limits: object) -> TestClient:
    settings.configure(database_url=database_url, data_dir=tmp_path / "data", **limits)
    return TestClient(create_app(run_workers=False), raise_server_exceptions=False)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The buckets' `time.monotonic`, standing still until the test moves it: a refill is exactly what it says."""
    c = Clock()
    monkeypatch.setattr(ratelimit, "time", types.SimpleNamespace(monotonic=c.monotonic))
    return c


@pytest.fixture
def limited(database: Database, database_url: str, tmp_path: Path, clock: Clock) -> Iterator[TestClient]:
    with _app_client(database_url, tmp_path, rate_limit_per_minute=60, rate_limit_burst=3) as c:
        yield c


def test_a_key_over_its_limit_gets_429_with_retry_after(
    limited: TestClient, tenant: Tenant, other_tenant: Tenant, clock: Clock
) -> None:
    for _ in range(3):
        assert limited.get("/v1/developers", headers=tenant.headers).status_code == 200
    refused = limited.get("/v1/developers", headers=tenant.headers)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"  # 60 a minute: one token a second
    assert refused.json() == {
        "error": {
            "code": "rate_limited",
            "message": "too many requests for this API key; try again in 1 s",
            "details": None,
        }
    }
    # Writes are refused before they happen.
    assert (
        limited.post("/v1/developers", headers=tenant.headers, json={"name": "A", "email": "a@x.example"}).status_code
        == 429
    )
    # Another key has its own bucket; a missing or wrong key is still 401 (checked before the limit).
    assert limited.get("/v1/developers", headers=other_tenant.headers).status_code == 200
    assert limited.get("/v1/developers", headers={"Authorization": "Bearer gpk_wrong"}).status_code == 401
    clock.advance(0.5)  # half a token: still refused
    assert limited.get("/v1/developers", headers=tenant.headers).status_code == 429
    clock.advance(0.5)  # one token a second: exactly one request more
    assert limited.get("/v1/developers", headers=tenant.headers).status_code == 200
    assert limited.get("/v1/developers", headers=tenant.headers).status_code == 429


def test_limit_zero_turns_it_off(database: Database, database_url: str, tmp_path: Path, tenant: Tenant) -> None:
    with _app_client(database_url, tmp_path, rate_limit_per_minute=0, rate_limit_burst=1) as c:
        assert all(c.get("/v1/developers", headers=tenant.headers).status_code == 200 for _ in range(20))


def test_the_default_allows_a_burst_and_the_openapi_document_shows_429(client: TestClient, tenant: Tenant) -> None:
    assert all(client.get("/v1/events", headers=tenant.headers).status_code == 200 for _ in range(100))
    spec = client.get("/openapi.json").json()
    assert "429" in spec["paths"]["/v1/developers"]["get"]["responses"]


def test_bucket_refills_at_the_rate_and_never_above_the_burst(clock: Clock) -> None:
    limiter = RateLimiter(per_minute=240, burst=2)  # four a second
    assert limiter.take("k") is None and limiter.take("k") is None
    assert limiter.take("k") == 1
    clock.advance(0.125)  # half a token
    assert limiter.take("k") == 1
    clock.advance(0.125)  # one token
    assert limiter.take("k") is None
    assert limiter.take("k") == 1
    clock.advance(0.75)  # three tokens' worth, capped at the burst of 2
    assert limiter.take("k") is None and limiter.take("k") is None
    assert limiter.take("k") == 1
    clock.advance(10)  # a long pause refills no more than the burst either
    assert [limiter.take("k") for _ in range(3)] == [None, None, 1]
    assert limiter.take("other") is None


def _sign_in(client: TestClient, email: str, password: str) -> Any:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    form = {"email": email, "password": password, "csrf_token": token.group(1)}
    return client.post("/login", data=form, follow_redirects=False)


def test_failed_sign_ins_are_limited_per_address(
    database: Database, database_url: str, tmp_path: Path, tenant: Tenant, clock: Clock
) -> None:
    with _app_client(database_url, tmp_path, sign_in_rate_limit_per_minute=1, sign_in_rate_limit_burst=2) as c:
        for _ in range(3):  # successful sign-ins do not count
            assert _sign_in(c, tenant.email, tenant.password).status_code == 303
        assert _sign_in(c, tenant.email, "wrong-1").status_code == 401
        assert _sign_in(c, tenant.email, "wrong-2").status_code == 401
        blocked = _sign_in(c, tenant.email, tenant.password)  # even the right password, from this address
        assert blocked.status_code == 429
        assert blocked.headers["Retry-After"] == "60"  # one a minute, and the clock stood still
        assert "Too many failed sign-ins" in blocked.text
        # Another address is not affected.
        other = TestClient(c.app, raise_server_exceptions=False, client=("192.0.2.7", 50000))
        assert _sign_in(other, tenant.email, tenant.password).status_code == 303
        clock.advance(59)
        assert _sign_in(c, tenant.email, tenant.password).status_code == 429
        clock.advance(1)  # a failure's token is back: this address may try again
        assert _sign_in(c, tenant.email, tenant.password).status_code == 303
