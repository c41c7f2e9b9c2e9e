"""Aliases and merging developers through the API; bots and noreply addresses."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from gitproductivity.analysis.identities import BotMatcher, canonical_email
from gitproductivity.core import settings
from tests.analysis.gitrepo import Repo, drain, lines


def test_bot_patterns_and_noreply_addresses() -> None:
    bots = BotMatcher(["^ci-runner$"])
    assert bots("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com")
    assert bots("Renovate Bot", "bot@renovateapp.com")
    assert bots("github-actions", "41898282+github-actions[bot]@users.noreply.github.com")
    assert bots("ci-runner", "ci@example.com")
    assert not bots("Jane", "jane@example.com")
    assert canonical_email("12345+Jane@users.noreply.github.com") == "jane@users.noreply.github.com"
    assert canonical_email(" Jane@Example.com ") == "jane@example.com"


def test_configured_bot_pattern_keeps_author_apart(api: TestClient, tmp_path: Path, database_url: str) -> None:
    settings.configure(database_url=database_url, data_dir=tmp_path / "data", bot_patterns=("deploy-robot",))
    repo = Repo(tmp_path / "r")
    repo.commit("Jane <jane@example.com>", "2026-03-01T10:00:00Z", {"a": lines(1)})
    repo.commit("Deploy Robot <deploy-robot@example.com>", "2026-03-01T11:00:00Z", {"b": lines(2)})
    api.post("/v1/repositories", json={"url": str(repo.path)})
    drain()
    team = api.get("/v1/metrics/developers").json()["data"]
    assert [d["email"] for d in team] == ["jane@example.com"]
    added = api.get("/v1/events", params={"type": "developer.added"}).json()["data"]
    assert [e["data"]["email"] for e in added] == ["jane@example.com"]


def test_aliases_and_merge(api: TestClient, tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("Jane <jane@work.example>", "2026-03-01T10:00:00Z", {"a": lines(3)})
    repo.commit("Jane <jane@home.example>", "2026-03-01T12:00:00Z", {"b": lines(2)})
    repo.commit("Jane <jane@home.example>", "2026-03-02T12:00:00Z", {"b": lines(4)})
    repo_id = api.post("/v1/repositories", json={"url": str(repo.path)}).json()["id"]
    drain()
    devs = {d["email"]: d["id"] for d in api.get("/v1/developers").json()["data"]}
    work, home = devs["jane@work.example"], devs["jane@home.example"]

    # An address already seen belongs to its own developer: merging is the way.
    clash = api.post(f"/v1/developers/{work}/aliases", json={"email": "jane@home.example"})
    assert clash.status_code == 409 and home in clash.json()["error"]["message"]
    bad = api.post(f"/v1/developers/{work}/aliases", json={"email": "not an email"})
    assert bad.status_code == 422

    merged = api.post(f"/v1/developers/{work}/merge", json={"developer_id": home})
    assert merged.status_code == 200, merged.text
    assert merged.json()["aliases"] == ["jane@home.example"]
    team = api.get("/v1/metrics/developers", params={"repository_id": repo_id}).json()["data"]
    assert [
        (d["developer_id"], d["totals"]["commits"], d["totals"]["lines_added"], d["totals"]["active_days"])
        for d in team
    ] == [(work, 3, 7, 2)]
    assert api.get(f"/v1/developers/{home}").json()["removed_at"] is not None
    update = api.get("/v1/events", params={"type": "metrics.updated"}).json()["data"][-1]["data"]
    assert update["developer_id"] == work and update["analysis_id"] is None
    assert update["delta"]["commits"] == 2 and update["totals"]["commits"] == 3
    removed = api.get("/v1/events", params={"type": "developer.removed"}).json()["data"]
    assert [e["data"]["developer_id"] for e in removed] == [home]
    assert api.post(f"/v1/developers/{work}/merge", json={"developer_id": work}).status_code == 409

    # New commits under the merged address count for the kept developer.
    repo.commit("Jane <jane@home.example>", "2026-03-03T12:00:00Z", {"b": lines(5)})
    api.post(f"/v1/repositories/{repo_id}/analyses")
    drain()
    team = api.get("/v1/metrics/developers").json()["data"]
    assert [(d["developer_id"], d["totals"]["commits"]) for d in team] == [(work, 4)]

    # A fresh alias, then removing it; the primary email cannot be removed.
    added = api.post(f"/v1/developers/{work}/aliases", json={"email": "J.Doe@Example.org"})
    assert added.status_code == 201 and "j.doe@example.org" in added.json()["aliases"]
    repo.commit("J <j.doe@example.org>", "2026-03-04T12:00:00Z", {"c": lines(1)})
    api.post(f"/v1/repositories/{repo_id}/analyses")
    drain()
    assert [d["totals"]["commits"] for d in api.get("/v1/metrics/developers").json()["data"]] == [5]
    assert api.delete(f"/v1/developers/{work}/aliases/j.doe@example.org").status_code == 200
    assert api.delete(f"/v1/developers/{work}/aliases/j.doe@example.org").status_code == 404
    assert api.delete(f"/v1/developers/{work}/aliases/jane@work.example").status_code == 409
