"""`gitproductivity webhooks add/update --filter --header`, `deliveries --status-code …` and `recover --until`,
run as real subprocesses."""

from __future__ import annotations

import json

import pytest

from gitproductivity.core.db import Database
from tests.webhooks.conftest import Receiver
from tests.webhooks.test_cli import run

pytestmark = pytest.mark.slow  # the real CLI as subprocesses: seconds per test


def test_filter_and_headers_from_the_cli(database: Database, database_url: str, receiver: Receiver) -> None:
    run(database_url, "init", "--email", "boss@example.com")
    spec = {"data": {"repository_id": {"$in": ["repo_1"]}}}
    hook = json.loads(
        run(
            database_url,
            *("webhooks", "add", receiver.url("/ok"), "--filter", json.dumps(spec)),
            *("--header", "X-Team: platform", "--json"),
        ).stdout
    )
    assert hook["filter"] == spec and hook["headers"] == {"X-Team": "platform"}
    assert receiver.on("/ok")[0].headers["X-Team"] == "platform"

    bad = run(database_url, "webhooks", "update", hook["id"], "--filter", '{"data": {"x": {"$in": 1}}}', check=False)
    assert bad.returncode == 1 and "filter.data.x.$in" in bad.stderr and "Traceback" not in bad.stderr
    bad = run(database_url, "webhooks", "update", hook["id"], "--filter", "{nope", check=False)
    assert bad.returncode == 1 and "--filter is not valid JSON" in bad.stderr
    bad = run(database_url, "webhooks", "update", hook["id"], "--header", "Host: x", check=False)
    assert bad.returncode == 1 and "headers.Host" in bad.stderr

    updated = json.loads(run(database_url, "webhooks", "update", hook["id"], "--filter", "null", "--json").stdout)
    assert updated["filter"] is None and updated["headers"] == {"X-Team": "platform"}  # headers left alone
    cleared = json.loads(run(database_url, "webhooks", "update", hook["id"], "--clear-headers", "--json").stdout)
    assert cleared["headers"] == {}

    tests = json.loads(
        run(database_url, "webhooks", "deliveries", hook["id"], "--event-type", "webhook.test", "--json").stdout
    )
    assert len(tests) == 1 and tests[0]["last_status_code"] == 200
    none = run(database_url, "webhooks", "deliveries", hook["id"], "--status-code", "5xx", "--json").stdout
    assert json.loads(none) == []
    bad = run(database_url, "webhooks", "deliveries", hook["id"], "--status-code", "5x", check=False)
    assert bad.returncode == 1 and "--status-code" in bad.stderr
    out = run(database_url, "webhooks", "recover", hook["id"], "--since", "2026-01-01", "--until", "2026-01-02")
    assert "queued 0 deliveries" in out.stdout
    bad = run(
        database_url, "webhooks", "recover", hook["id"], "--since", "2026-01-02", "--until", "2026-01-01", check=False
    )
    assert bad.returncode == 1 and "until" in bad.stderr


def test_ordering_from_the_cli(database: Database, database_url: str, receiver: Receiver) -> None:
    run(database_url, "init", "--email", "boss@example.com")
    hook = json.loads(
        run(database_url, "webhooks", "add", receiver.url("/ok"), "--ordering", "per_repository", "--json").stdout
    )
    assert hook["ordering"] == "per_repository"
    bad = run(database_url, "webhooks", "update", hook["id"], "--ordering", "per_team", check=False)
    assert bad.returncode == 1 and "ordering" in bad.stderr and "Traceback" not in bad.stderr
    updated = json.loads(run(database_url, "webhooks", "update", hook["id"], "--ordering", "none", "--json").stdout)
    assert updated["ordering"] == "none"
