"""The real `gitproductivity` command, run as a subprocess against the test database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gitproductivity.core.db import Database

pytestmark = pytest.mark.slow  # the real CLI as subprocesses: seconds per test

EXE = str(Path(sys.executable).with_name("gitproductivity"))


def run(database_url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GITPRODUCTIVITY_DATABASE_URL": database_url, "COLUMNS": "200"}
    proc = subprocess.run([EXE, *args], capture_output=True, text=True, env=env, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def test_init_then_manage_developers_repositories_events(database: Database, database_url: str, git_repo: Path) -> None:
    out = json.loads(run(database_url, "init", "--email", "Boss@Example.com", "--org", "Acme", "--json").stdout)
    assert set(out) == {"organization_id", "email", "password", "api_key"}
    assert out["email"] == "boss@example.com" and out["api_key"].startswith("gpk_")

    added = json.loads(
        run(
            database_url, "developers", "add", "Jane Doe", "jane@example.com", "--alias", "j@old.example.com", "--json"
        ).stdout
    )
    assert added["aliases"] == ["j@old.example.com"]
    listed = json.loads(run(database_url, "developers", "list", "--json").stdout)
    assert [d["id"] for d in listed] == [added["id"]]
    table = run(database_url, "developers", "list").stdout
    assert "Jane Doe" in table

    repo = json.loads(run(database_url, "repositories", "connect", str(git_repo), "--json").stdout)
    assert repo["name"] == "sample-repo"
    assert repo["id"] in run(database_url, "repositories", "list").stdout
    run(database_url, "repositories", "disconnect", repo["id"])
    run(database_url, "developers", "remove", added["id"])

    events = json.loads(run(database_url, "events", "list", "--json").stdout)
    assert [e["type"] for e in events] == [
        "developer.added",
        "repository.connected",
        "repository.disconnected",
        "developer.removed",
    ]
    only = json.loads(run(database_url, "events", "list", "--type", "repository.connected", "--json").stdout)
    assert len(only) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["developers", "add", "X", "not-an-email"], "is not a valid email address"),
        (["developers", "remove", "dev_nope"], "developer dev_nope not found"),
        (["repositories", "connect", "ext::sh -c id"], "remote helpers"),
        (["repositories", "connect", "--", "-uhoh"], "must not start with '-'"),
        (["events", "list", "--type", "bogus.event"], "unknown event type"),
    ],
)
def test_errors_are_one_line_without_traceback(
    database: Database, database_url: str, args: list[str], message: str
) -> None:
    run(database_url, "init", "--email", "boss@example.com")
    proc = run(database_url, *args, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert len(proc.stderr.strip().splitlines()) == 1


def test_no_organisation_yet_is_a_clear_error(database: Database, database_url: str) -> None:
    proc = run(database_url, "developers", "list", check=False)
    assert proc.returncode == 1
    assert "gitproductivity init" in proc.stderr


def test_duplicate_init_is_refused(database: Database, database_url: str) -> None:
    run(database_url, "init", "--email", "boss@example.com")
    proc = run(database_url, "init", "--email", "BOSS@example.com", check=False)
    assert proc.returncode == 1
    assert "already exists" in proc.stderr


def test_bad_configuration_is_a_clear_error(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "GITPRODUCTIVITY_RETRY_SCHEDULE": "soon",
        "GITPRODUCTIVITY_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
    }
    proc = subprocess.run([EXE, "db", "upgrade"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2
    assert "GITPRODUCTIVITY_RETRY_SCHEDULE" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_db_upgrade_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/fresh.db"
    assert "up to date" in run(url, "db", "upgrade").stdout
    assert "up to date" in run(url, "db", "upgrade").stdout
