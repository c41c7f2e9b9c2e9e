"""Property-based fuzzing of every API operation from our own OpenAPI document (schemathesis).

Whatever the generated input, the API must answer without a server error, with a status code the document
declares for that operation, the declared content type and headers, and a body that matches the declared
schema (for errors: the one error shape).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gitproductivity.app import create_app
from gitproductivity.core import settings as app_settings
from gitproductivity.core.db import Database
from tests.conftest import Tenant

pytestmark = pytest.mark.slow  # schemathesis fuzzes every API operation

schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(run_workers=False))


@pytest.fixture(autouse=True)
def short_long_polls(database: Database, database_url: str, tmp_path: Path) -> None:
    """Generated `GET /v1/events?wait=…` would otherwise wait up to a minute per example."""
    app_settings.configure(database_url=database_url, data_dir=tmp_path / "data", long_poll_max_wait=0.05)


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_fails_with_a_server_error(case, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {tenant.api_key}"}
    response = case.call_and_validate(checks=CHECKS)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"}
        assert set(body["error"]) == {"code", "message", "details"}
