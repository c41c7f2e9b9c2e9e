"""Every number and date-time an API operation takes is bounded and validated: 422, never a 500.

Generated from the app's own OpenAPI document: every number in a parameter or a request body must carry a
minimum and a maximum, every date-time the `core.bounds.UtcDateTime` mark; then each of them is sent the
extremes an attacker tries (huge, infinite, not-a-number, naive and edge date-times) on real resources.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from gitproductivity.core.bounds import MAX_SECRET_OVERLAP_SECONDS, UTC_DATETIME_SCHEMA, parse_utc_datetime
from gitproductivity.core.db import Database
from gitproductivity.core.errors import ValidationFailed
from gitproductivity.core.settings import Settings
from tests.conftest import Tenant

_METHODS = ("get", "post", "put", "patch", "delete")
_PARAM = re.compile(r"{([^}]+)}")

#: Raw JSON tokens for a number (Python's json reads NaN, Infinity and 1e400 as floats).
NUMBER_TOKENS = [
    "1e20", "1e400", "-1e400", "NaN", "Infinity", "-Infinity", '"inf"', '"nan"', '"1e20"', "-1", "1e308",
    "1" + "0" * 40, "-0.0", "true",
]  # fmt: skip
NUMBER_QUERY = ["inf", "-inf", "nan", "1e20", "1e400", "-1", "1" + "0" * 40, "0x10", "", "1_000"]
DATETIMES: list[Any] = [
    "2026-11-01T00:00:00", "2024-01-01", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", "0001-01-01", "9999-12-31", "10000-01-01T00:00:00Z",
    "-0001-01-01T00:00:00Z", "2024-02-30T00:00:00Z", "2024-01-01T00:00:00+24:00", "2024-01-01T24:00:00Z",
    1e20, -62135596800, 253402300800, -1e300, "",
]  # fmt: skip
DATES = ["0001-01-01", "9999-12-31", "10000-01-01", "0000-01-01", "2024-02-30", "1e20", "-1", ""]


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _leaves(spec: dict[str, Any], node: dict[str, Any], where: str) -> list[tuple[str, dict[str, Any]]]:
    """Every scalar schema under `node` (through refs, anyOf/oneOf/allOf, properties and items), with its path."""
    node = _resolve(spec, node)
    found: list[tuple[str, dict[str, Any]]] = []
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in node.get(key, []):
            found += _leaves(spec, sub, where)
    for name, sub in node.get("properties", {}).items():
        found += _leaves(spec, sub, f"{where}.{name}")
    if "items" in node:
        found += _leaves(spec, node["items"], f"{where}[]")
    if node.get("type") in ("number", "integer", "string"):
        found.append((where, node))
    return found


def inputs(spec: dict[str, Any]) -> list[tuple[str, str, str, str, dict[str, Any]]]:
    """(method, path, "query"|"body", field, schema) for every scalar input of every operation."""
    out = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in _METHODS:
                continue
            for param in op.get("parameters", []):
                param = _resolve(spec, param)
                for field, schema in _leaves(spec, param.get("schema", {}), param["name"]):
                    out.append((method.upper(), path, param["in"], field, schema))
            body = op.get("requestBody", {}).get("content", {})
            for media in body.values():
                for field, schema in _leaves(spec, media.get("schema", {}), ""):
                    out.append((method.upper(), path, "body", field.lstrip("."), schema))
    return out


def _is_number(schema: dict[str, Any]) -> bool:
    return schema.get("type") in ("number", "integer")


def _is_datetime(schema: dict[str, Any]) -> bool:
    return schema.get("format") in ("date-time", "date")


def test_every_number_is_bounded_and_every_datetime_validated(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    found = inputs(spec)
    numbers = [(m, p, f, s) for m, p, _, f, s in found if _is_number(s)]
    stamps = [(m, p, f, s) for m, p, _, f, s in found if s.get("format") == "date-time"]
    assert ("POST", "/v1/webhooks/{webhook_id}/rotate-secret", "overlap_seconds") in [n[:3] for n in numbers]
    assert ("POST", "/v1/webhooks/{webhook_id}/recover", "since") in [s[:3] for s in stamps]
    unbounded = [
        f"{m} {p} {f}"
        for m, p, f, s in numbers
        if not ({"minimum", "exclusiveMinimum"} & set(s) and {"maximum", "exclusiveMaximum"} & set(s))
    ]
    assert not unbounded, f"numbers without a documented minimum and maximum: {unbounded}"
    unchecked = [f"{m} {p} {f}" for m, p, f, s in stamps if not UTC_DATETIME_SCHEMA.items() <= s.items()]
    assert not unchecked, f"date-times not typed core.bounds.UtcDateTime: {unchecked}"


def _ids(api: TestClient, git_repo: Path | None = None) -> dict[str, str]:
    repo = api.post("/v1/repositories", json={"url": str(git_repo)}).json() if git_repo else {"id": "none"}
    dev = api.post("/v1/developers", json={"name": "Zed", "email": "zed@example.com"}).json()
    # A name that never resolves (RFC 6761 .invalid) passes the save-time check; its test delivery fails.
    hook = api.post("/v1/webhooks", json={"url": "http://hooks.invalid:9/hook", "events": ["*"]}).json()
    team = api.post("/v1/teams", json={"name": "Bounds"}).json()
    return {
        "team_id": team["id"],
        "repository_id": repo["id"],
        "developer_id": dev["id"],
        "webhook_id": hook["id"],
        "delivery_id": hook["test"]["delivery_id"],
    }


def _assert_clean(resp: Any, what: str) -> None:
    assert resp.status_code < 500, f"{what}: {resp.status_code} {resp.text}"
    if resp.status_code >= 400:
        body = resp.json()
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, what


def test_extreme_numbers_and_datetimes_never_answer_a_server_error(
    client: TestClient, tenant: Tenant, git_repo: Path
) -> None:
    api = TestClient(client.app, raise_server_exceptions=False, headers=tenant.headers)
    ids = _ids(api, git_repo)
    spec = client.get("/openapi.json").json()
    sent = 0
    for method, path, where, field, schema in inputs(spec):
        if not (_is_number(schema) or _is_datetime(schema)):
            continue
        unknown = [n for n in _PARAM.findall(path) if n not in ids]
        assert not unknown, f"{method} {path}: add a real value for {unknown} to this test"
        url = _PARAM.sub(lambda m: ids[m.group(1)], path)
        if where == "query":
            values = NUMBER_QUERY if _is_number(schema) else DATES if schema["format"] == "date" else DATETIMES
            for value in values:
                _assert_clean(api.request(method, url, params={field: str(value)}), f"{method} {path}?{field}={value}")
                sent += 1
        else:
            assert "." not in field, f"{method} {path}: nested body field {field}: extend this test"
            tokens = NUMBER_TOKENS if _is_number(schema) else [json.dumps(v) for v in DATETIMES]
            for token in tokens:
                raw = f'{{"{field}": {token}}}'
                resp = api.request(method, url, content=raw, headers={"Content-Type": "application/json"})
                _assert_clean(resp, f"{method} {path} {raw}")
                sent += 1
    assert sent > 100


def test_rotate_secret_overlap_is_finite_and_bounded(client: TestClient, tenant: Tenant) -> None:
    api = TestClient(client.app, raise_server_exceptions=False, headers=tenant.headers)
    url = f"/v1/webhooks/{_ids(api)['webhook_id']}/rotate-secret"
    for raw in ('{"overlap_seconds": 1e20}', '{"overlap_seconds": "inf"}', '{"overlap_seconds": NaN}'):
        resp = api.post(url, content=raw, headers={"Content-Type": "application/json"})
        assert resp.status_code == 422, resp.text
        assert resp.json()["error"]["details"][0]["field"] == "overlap_seconds"
    longest = api.post(url, json={"overlap_seconds": MAX_SECRET_OVERLAP_SECONDS})
    assert longest.status_code == 200, longest.text
    ends = datetime.fromisoformat(longest.json()["secret_rotation_ends_at"])
    assert abs(ends - datetime.now(UTC) - timedelta(days=30)) < timedelta(minutes=1)
    assert api.post(url, json={"overlap_seconds": MAX_SECRET_OVERLAP_SECONDS + 1}).status_code == 422


def test_a_datetime_without_an_offset_is_utc_and_edges_are_refused_in_words(client: TestClient, tenant: Tenant) -> None:
    api = TestClient(client.app, raise_server_exceptions=False, headers=tenant.headers)
    url = f"/v1/webhooks/{_ids(api)['webhook_id']}/recover"
    for since in ("2026-11-01T00:00:00", "2024-01-01", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z"):
        resp = api.post(url, json={"since": since})
        assert resp.status_code == 202, f"{since}: {resp.text}"
    for since in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        resp = api.post(url, json={"since": since})
        assert resp.status_code == 422, resp.text
        assert "between the years 1 and 9999" in resp.json()["error"]["message"]

    assert parse_utc_datetime("2026-11-01T00:00:00") == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_utc_datetime("2024-01-01") == datetime(2024, 1, 1, tzinfo=UTC)
    assert parse_utc_datetime("2026-11-01T02:00:00+02:00") == datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(ValidationFailed, match="between the years 1 and 9999"):
        parse_utc_datetime("0001-01-01T00:00:00+14:00")
    with pytest.raises(ValidationFailed, match="like 2026-03-19T10:30:00Z"):
        parse_utc_datetime("tomorrow")


def test_settings_refuse_infinite_numbers_and_an_overlap_past_the_api_bound() -> None:
    for field, value in (("webhook_timeout", "inf"), ("webhook_secret_overlap", "nan"), ("git_timeout", "1e400")):
        with pytest.raises(ValidationError, match="finite"):
            Settings.model_validate({field: value})
    with pytest.raises(ValidationError, match="at most 2592000"):
        Settings(webhook_secret_overlap=1e20)


@pytest.mark.slow  # runs the real CLI as subprocesses
def test_cli_refuses_infinite_overlaps_in_words(database: Database, database_url: str, tmp_path: Path) -> None:
    exe = str(Path(sys.executable).with_name("gitproductivity"))
    env = {**os.environ, "GITPRODUCTIVITY_DATABASE_URL": database_url, "GITPRODUCTIVITY_DATA_DIR": str(tmp_path)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([exe, *args], capture_output=True, text=True, env=env, timeout=120)

    assert cli("init", "--email", "boss@example.com").returncode == 0
    added = cli("webhooks", "add", "http://hooks.invalid:9/hook", "--json")
    assert added.returncode == 0, added.stderr
    hook_id = json.loads(added.stdout)["id"]
    for overlap in ("inf", "nan", "1e20"):
        done = cli("webhooks", "rotate-secret", hook_id, "--overlap", overlap)
        assert done.returncode == 1, done.stdout + done.stderr
        assert "overlap_seconds must be a number of seconds from 0 to 2592000" in done.stderr
        assert "Traceback" not in done.stderr


def test_the_recover_form_reads_dates_as_the_api_does(client: TestClient, tenant: Tenant) -> None:
    api = TestClient(client.app, raise_server_exceptions=False, headers=tenant.headers)
    hook_id = _ids(api)["webhook_id"]
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    form = {"email": tenant.email, "password": tenant.password, "csrf_token": token.group(1)}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
    fresh = re.search(r'name="csrf_token" value="([^"]+)"', client.get(f"/settings/webhooks/{hook_id}").text)
    assert fresh is not None
    url = f"/settings/webhooks/{hook_id}/recover"
    cases = {
        "2026-11-01T00:00": "since 2026-11-01 00:00 UTC",  # the datetime-local field: no offset, UTC
        "2026-11-01T02:00+02:00": "since 2026-11-01 00:00 UTC",  # an offset is converted, not dropped
        "0001-01-01T00:00+14:00": "Enter the date and time (UTC)",
        "9999-12-31T23:59-14:00": "Enter the date and time (UTC)",
        "99999-01-01T00:00": "Enter the date and time (UTC)",
        "x" * 10_000: "Enter the date and time (UTC)",
    }
    for since, shown in cases.items():
        resp = client.post(url, data={"since": since, "csrf_token": fresh.group(1)})
        assert resp.status_code == 200, f"{since[:40]}: {resp.status_code}"
        assert shown in resp.text, since[:40]


def test_cli_number_options_are_finite_and_bounded() -> None:
    from typer.testing import CliRunner

    from gitproductivity.cli import app

    runner = CliRunner()
    for args in (
        ["listen", "--forward-to", "http://127.0.0.1:9/", "--wait", "nan"],
        ["listen", "--forward-to", "http://127.0.0.1:9/", "--wait", "inf"],
        ["serve", "--port", "70000"],
        ["serve", "--port", "-1"],
        ["events", "list", "--limit", "1" + "0" * 30],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, f"{args}: {result.output}"
        assert "Invalid value" in result.output and "Traceback" not in result.output, args
    with pytest.raises(ValidationError, match="1 to 65535"):
        Settings(port=70000)


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("webhook_timeout", 1e300, "at most 31536000 seconds"),
        ("analysis_recheck_interval", 1e20, "at most 31536000 seconds"),
        ("git_timeout", 10**30, "at most 31536000 seconds"),
        ("retry_schedule", "60,1e300", "each retry delay must be at most"),
        ("event_retention_days", 1e12, "at most 36500 days"),
    ],
)
def test_settings_in_seconds_and_days_have_an_upper_bound(field: str, value: object, words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        Settings.model_validate({field: value, "webhook_lease_seconds": 31536000})
