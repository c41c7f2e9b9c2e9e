"""Property-based fuzzing of every API operation from our own OpenAPI document (schemathesis).

Whatever the generated input, the API must answer without a server error, and every error body has the
one error shape.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from gitproductivity.app import create_app
from gitproductivity.core import settings as app_settings
from gitproductivity.core.db import Database
from tests.conftest import Tenant

schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(run_workers=False))


@pytest.fixture(autouse=True)
def short_long_polls(database: Database, database_url: str, tmp_path: Path) -> None:
    """Generated `GET /v1/events?wait=…` would otherwise wait up to a minute per example."""
    app_settings.configure(database_url=database_url, data_dir=tmp_path / "data", long_poll_max_wait=0.05)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_fails_with_a_server_error(case, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {tenant.api_key}"}
    response = case.call()
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"}
        assert set(body["error"]) == {"code", "message", "details"}
