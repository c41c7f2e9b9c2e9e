"""Metric queries: ranges, granularities, isolation between organisations, bots, several repositories."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.analysis.gitrepo import Repo, drain, lines
from tests.conftest import Tenant

ALICE = "Alice Liddell <alice@example.com>"


@pytest.mark.parametrize("granularity", ["day", "week", "month"])
def test_series_granularities(api: TestClient, tmp_path: Path, granularity: str) -> None:
    repo = Repo(tmp_path / "r")
    for when in ("2026-01-30T10:00:00Z", "2026-01-31T10:00:00Z", "2026-02-02T10:00:00Z", "2026-02-02T11:00:00Z"):
        repo.commit(ALICE, when, {"f.txt": lines(int(when[8:10]) + int(when[11:13]))})
    api.post("/v1/repositories", json={"url": str(repo.path)})
    drain()
    dev_id = api.get("/v1/developers").json()["data"][0]["id"]
    body = api.get(f"/v1/developers/{dev_id}/metrics", params={"granularity": granularity}).json()
    got = [(b["start"], b["commits"], b["active_days"]) for b in body["buckets"]]
    expected = {
        "day": [("2026-01-30", 1, 1), ("2026-01-31", 1, 1), ("2026-02-02", 2, 1)],
        "week": [("2026-01-26", 2, 2), ("2026-02-02", 2, 1)],  # Monday 26 Jan; Monday 2 Feb
        "month": [("2026-01-01", 2, 2), ("2026-02-01", 2, 1)],
    }[granularity]
    assert got == expected
    assert body["totals"]["commits"] == 4 and body["totals"]["active_days"] == 3
    ranged = api.get(f"/v1/developers/{dev_id}/metrics", params={"from": "2026-01-31", "to": "2026-02-01"}).json()
    assert ranged["totals"]["commits"] == 1
    bad = api.get(f"/v1/developers/{dev_id}/metrics", params={"granularity": "year"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"
    backwards = api.get("/v1/metrics/developers", params={"from": "2026-02-01", "to": "2026-01-01"})
    assert backwards.status_code == 422


def test_active_days_count_once_across_repositories(api: TestClient, tmp_path: Path) -> None:
    one, two = Repo(tmp_path / "one"), Repo(tmp_path / "two")
    one.commit(ALICE, "2026-06-01T09:00:00Z", {"a": lines(2)})
    two.commit(ALICE, "2026-06-01T17:00:00Z", {"b": lines(3)})
    two.commit(ALICE, "2026-06-03T17:00:00Z", {"b": lines(4)})
    first = api.post("/v1/repositories", json={"url": str(one.path)}).json()["id"]
    api.post("/v1/repositories", json={"url": str(two.path)})
    drain()
    everywhere = api.get("/v1/metrics/developers").json()["data"][0]["totals"]
    assert (everywhere["commits"], everywhere["lines_added"], everywhere["active_days"]) == (3, 6, 2)
    only_one = api.get("/v1/metrics/developers", params={"repository_id": first}).json()
    assert only_one["repository_id"] == first
    assert only_one["data"][0]["totals"]["active_days"] == 1
    ranged = api.get("/v1/metrics/developers", params={"from": "2026-06-02", "to": "2026-06-30"}).json()
    assert ranged["from"] == "2026-06-02" and ranged["to"] == "2026-06-30"
    assert ranged["data"][0]["totals"]["commits"] == 1


def test_metrics_of_other_organisations_are_hidden(
    api: TestClient, client: TestClient, other_tenant: Tenant, tmp_path: Path
) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit(ALICE, "2026-06-01T09:00:00Z", {"a": lines(2)})
    api.post("/v1/repositories", json={"url": str(repo.path)})
    drain()
    dev_id = api.get("/v1/developers").json()["data"][0]["id"]
    other = other_tenant.headers
    assert client.get("/v1/metrics/developers", headers=other).json()["data"] == []
    assert client.get(f"/v1/developers/{dev_id}/metrics", headers=other).status_code == 404
    assert client.get("/v1/metrics/developers", headers={"Authorization": "Bearer gpk_nope"}).status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        "/v1/developers/dev_%00/metrics",  # NUL in a query string is 422: tests/core/test_media_types.py
        "/v1/analyses/ana_%00x",
        "/v1/repositories/repo_%00/analyses",
    ],
)
def test_malformed_ids_are_404_not_server_errors(api: TestClient, path: str) -> None:
    resp = api.get(path)
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"
    assert api.post("/v1/developers/dev_%00/merge", json={"developer_id": "dev_x"}).status_code == 404
    assert api.post("/v1/developers/dev_%00/aliases", json={"email": "a@example.com"}).status_code == 404
