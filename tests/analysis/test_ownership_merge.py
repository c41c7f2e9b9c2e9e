"""Merging two developers moves their owned lines: one owner with the summed lines, bus factors computed again."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from gitproductivity.core.db import Database
from tests.analysis.gitrepo import Repo, drain, lines
from tests.analysis.test_ownership import ALICE, BOB, CAROL, api_owners


def test_merge_moves_ownership_rows(api: TestClient, tmp_path: Path, database: Database) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit(ALICE, "2026-01-01T10:00:00Z", {"src/a.txt": lines(4, "a"), "b.txt": lines(2, "a")})
    repo.commit(BOB, "2026-01-02T10:00:00Z", {"src/b.txt": lines(3, "b"), "c.txt": lines(1, "b")})
    repo.commit(CAROL, "2026-01-03T10:00:00Z", {"src/c.txt": lines(6, "c")})
    repo_id = api.post("/v1/repositories", json={"url": str(repo.path)}).json()["id"]
    assert drain() == ["succeeded"]
    before = api_owners(api, repo_id)
    assert {o["email"]: o["lines"] for o in before["owners"]} == {
        "alice@example.com": 6,
        "bob@example.com": 4,
        "carol@example.com": 6,
    }
    assert before["bus_factor"] == 2
    ids = {o["email"]: o["developer_id"] for o in before["owners"]}
    merged = api.post(f"/v1/developers/{ids['alice@example.com']}/merge", json={"developer_id": ids["bob@example.com"]})
    assert merged.status_code == 200, merged.text
    after = api_owners(api, repo_id)
    assert [(o["email"], o["lines"]) for o in after["owners"]] == [("alice@example.com", 10), ("carol@example.com", 6)]
    assert after["owners"][0]["share"] == round(10 / 16, 4)
    assert after["bus_factor"] == 1  # Alice alone now owns more than half
    src = api_owners(api, repo_id, "src")
    assert {o["email"]: o["lines"] for o in src["owners"]} == {"alice@example.com": 7, "carol@example.com": 6}
    assert src["bus_factor"] == 1
