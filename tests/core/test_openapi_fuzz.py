"""Property-based fuzzing of every API operation from our own OpenAPI document (schemathesis).

Whatever the generated input, the API must answer without a server error, and every error body has the
one error shape.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings

from gitproductivity.app import create_app
from tests.conftest import Tenant

schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(run_workers=False))


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
