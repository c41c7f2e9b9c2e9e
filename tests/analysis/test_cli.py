"""`gitproductivity repositories analyze` and `gitproductivity metrics`, run as real subprocesses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitproductivity.core.db import Database
from tests.analysis.gitrepo import Repo, lines
from tests.test_cli import run

pytestmark = pytest.mark.slow  # the real CLI as subprocesses: seconds per test


def test_analyze_with_progress_then_metrics_table(
    database: Database, database_url: str, tmp_path: Path, backend: str
) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("Jane Doe <jane@example.com>", "2026-05-01T10:00:00Z", {"a.txt": lines(4)})
    repo.commit("Sam Roe <sam@example.com>", "2026-05-02T10:00:00Z", {"a.txt": lines(6), "b.txt": lines(1)})
    run(database_url, "init", "--email", "boss@example.com")
    repo_id = json.loads(run(database_url, "repositories", "connect", str(repo.path), "--json").stdout)["id"]

    done = run(database_url, "repositories", "analyze", repo_id)
    assert "analysing" in done.stderr and "2/2" in done.stderr  # the progress bar: done / total
    assert "succeeded: full (first), 2 commits read, 2 new, 2 developers updated" in done.stdout

    table = run(database_url, "metrics").stdout
    jane = next(line for line in table.splitlines() if "jane@example.com" in line)
    assert [cell.strip() for cell in jane.split("│")[1:-1]][:8] == [
        "Jane Doe",
        "jane@example.com",
        "1",
        "0",
        "4",
        "0",
        "1",
        "1",
    ]
    rows = json.loads(run(database_url, "metrics", "--json", "--from", "2026-05-02").stdout)
    assert [(r["email"], r["commits"], r["lines_added"]) for r in rows] == [("sam@example.com", 1, 3)]

    again = json.loads(run(database_url, "repositories", "analyze", repo_id, "--json").stdout)
    assert again["mode"] == "up_to_date"

    bad = run(database_url, "metrics", "--from", "yesterday", check=False)
    assert bad.returncode == 1 and bad.stderr.strip().startswith("error:") and "Traceback" not in bad.stderr
    dev_ids = {d["email"]: d["id"] for d in json.loads(run(database_url, "developers", "list", "--json").stdout)}
    run(database_url, "developers", "merge", dev_ids["jane@example.com"], dev_ids["sam@example.com"])
    rows = json.loads(run(database_url, "metrics", "--json").stdout)
    assert [(r["email"], r["commits"], r["active_days"]) for r in rows] == [("jane@example.com", 2, 2)]
