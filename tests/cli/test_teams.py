"""`gitproductivity teams create | list | add | remove | delete` and `metrics --team`, through the real entry point
(`cli.main`, which turns errors into one line) on both databases."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from gitproductivity.core.db import Database
from gitproductivity.developers import service as developers
from gitproductivity.repositories import flows
from tests.cli.test_users import _main
from tests.conftest import Tenant
from tests.metrics.test_team_series import rollup


def test_teams_from_the_command_line(
    database: Database,
    tenant: Tenant,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    org = tenant.organization_id
    (tmp_path / "r" / ".git").mkdir(parents=True)
    with database.session() as session:
        repo = flows.connect(session, organization_id=org, url=str(tmp_path / "r")).id
        ann = developers.create(session, organization_id=org, name="Ann", email="ann@example.com").id
        bob = developers.create(session, organization_id=org, name="Bob", email="bob@example.com").id
        session.add_all([rollup(org, repo, ann, date(2026, 1, 5), 3), rollup(org, repo, bob, date(2026, 1, 5), 5)])

    def run(*args: str) -> tuple[int, str, str]:
        return _main(monkeypatch, capsys, *args)

    code, out, _ = run("teams", "create", "Core")
    assert code == 0 and "created team Core" in out
    code, _, err = run("teams", "create", "core")
    assert code == 1 and "already a team called 'Core'" in err and len(err.strip().splitlines()) == 1

    assert "added Ann@example.com to team Core" in run("teams", "add", "core", "Ann@example.com")[1]
    assert "already in team Core" in run("teams", "add", "Core", ann)[1]
    code, _, err = run("teams", "add", "Core", "nobody@example.com")
    assert code == 1 and "no developer has the e-mail nobody@example.com" in err
    code, _, err = run("teams", "add", "Nope", ann)
    assert code == 1 and "there is no team called 'Nope'" in err

    listed = json.loads(run("teams", "list", "--json")[1])
    assert [(t["name"], t["member_count"]) for t in listed] == [("Core", 1)]
    assert "Core" in run("teams", "list")[1]

    figures = json.loads(run("metrics", "--team", "Core", "--json")[1])
    assert [(r["name"], r["commits"]) for r in figures] == [("Ann", 3)]
    assert len(json.loads(run("metrics", "--json")[1])) == 2

    assert "removed ann@example.com from team Core" in run("teams", "remove", "Core", "ann@example.com")[1]
    assert "was not in team Core" in run("teams", "remove", "Core", "ann@example.com")[1]
    assert json.loads(run("metrics", "--team", "Core", "--json")[1]) == []
    assert "deleted team Core" in run("teams", "delete", "Core")[1]
    assert json.loads(run("teams", "list", "--json")[1]) == []
