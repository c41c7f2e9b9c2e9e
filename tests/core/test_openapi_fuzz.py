"""Property-based fuzzing of every API operation from our own OpenAPI document (schemathesis).

Whatever the generated input, the API must answer without a server error, with a status code the document
declares for that operation, the declared content type and headers, and a body that matches the declared
schema (for errors: the one error shape).

Date-times are drawn with the extremes attackers use (no offset, a bare date, years 1 and 9999 with the largest
offsets), and a second run generates inputs that break the schema on purpose (negative mode: numbers past their
bounds, wrong types), so that every bound the document declares is also enforced with a 4xx, never a 500.
tests/core/test_input_bounds.py sends the non-JSON extremes (`1e400`, `NaN`, `Infinity`) that schemathesis cannot.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
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

#: What a date-time field receives: the edges of the range, with and without offsets, and ordinary values.
EDGE_DATETIMES = [
    "2026-11-01T00:00:00", "2024-01-01", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", "0001-01-01", "9999-12-31T23:59:59.999999",
]  # fmt: skip
OFFSETS = st.sampled_from([None, UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-14, minutes=-59))])
schemathesis.openapi.format(
    "date-time",
    st.one_of(
        st.sampled_from(EDGE_DATETIMES),
        st.builds(lambda d, tz: d.replace(tzinfo=tz).isoformat(), st.datetimes(min_value=datetime(1, 1, 1)), OFFSETS),
    ),
)
schemathesis.openapi.format("date", st.one_of(st.sampled_from(["0001-01-01", "9999-12-31"]), st.dates().map(str)))

schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(run_workers=False))
negative = schemathesis.openapi.from_asgi("/openapi.json", create_app(run_workers=False))
negative.config.generation.update(modes=[GenerationMode.NEGATIVE])


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


def _call(case, tenant: Tenant, checks: list) -> None:  # type: ignore[no-untyped-def, type-arg]
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {tenant.api_key}"}
    response = case.call_and_validate(checks=checks)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"}
        assert set(body["error"]) == {"code", "message", "details"}


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_fails_with_a_server_error(case, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    _call(case, tenant, CHECKS)


@negative.include(
    method=["POST", "GET"],
    path_regex=r"/(developers|repositories|events|webhooks|notifications|analyses|deliveries|metrics|rotate-secret|recover)$",
).parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_inputs_outside_the_schema_are_refused_not_a_server_error(case, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    _call(case, tenant, [not_a_server_error, content_type_conformance, response_schema_conformance])
