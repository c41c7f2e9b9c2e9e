"""One canonical identity per repository (issue 12, finding 11, second half): the same repository written
another way is the same repository, a 409 naming the one already connected; existing rows are back-filled by
migration 0007_repository_identity."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from gitproductivity.core.db import Database
from gitproductivity.repositories.models import Repository
from tests.analysis.gitrepo import Repo, drain, lines
from tests.conftest import Tenant
from tests.core.test_migrations import empty_database_url, upgrade_to

__all__ = ["empty_database_url"]  # the fixture, used below

ALICE = "Alice <alice@example.com>"
OLD_ROW = (
    "INSERT INTO repositories (id, organization_id, name, url, kind, status, created_at, connected_at)"
    " VALUES (:id, 'org_1', :id, :url, :kind, :status, :t, :t)"
)


def _spellings(repo: Path, tmp_path: Path) -> list[str]:
    (tmp_path / "link").symlink_to(repo)
    return [
        f"{repo}/",
        f"{repo}/.git",
        f"{repo}/.git/",
        f"{repo}/../{repo.name}",
        f"file://{repo}",
        f"file://{repo}/.git",
        str(tmp_path / "link"),
        f"{tmp_path / 'link'}/.git",
    ]


def test_a_local_repository_written_another_way_is_a_409_naming_the_first(api: TestClient, tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit(ALICE, "2026-01-01T10:00:00Z", {"a.txt": lines(4)})
    first = api.post("/v1/repositories", json={"url": str(repo.path), "name": "The repo"})
    assert first.status_code == 201, first.text
    for url in _spellings(repo.path, tmp_path):
        dup = api.post("/v1/repositories", json={"url": url})
        assert dup.status_code == 409, (url, dup.text)
        error = dup.json()["error"]
        assert error["code"] == "conflict"
        assert first.json()["id"] in error["message"] and "The repo" in error["message"]
        assert error["details"][0]["repository_id"] == first.json()["id"]
    assert len(api.get("/v1/repositories").json()["data"]) == 1
    assert drain() == ["succeeded"]
    [row] = api.get("/v1/metrics/developers").json()["data"]
    assert row["totals"]["commits"] == 1  # counted once


def test_a_linked_worktree_is_the_same_repository(api: TestClient, tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit(ALICE, "2026-01-01T10:00:00Z", {"a.txt": lines(4)})
    repo.git("worktree", "add", "-q", "-b", "other", str(tmp_path / "wt"))
    assert api.post("/v1/repositories", json={"url": str(repo.path)}).status_code == 201
    assert api.post("/v1/repositories", json={"url": str(tmp_path / "wt")}).status_code == 409


@pytest.mark.parametrize(
    ("first", "again"),
    [
        ("https://github.com/acme/widgets.git", "https://GitHub.com:443/acme/widgets/"),
        ("https://github.com/acme/widgets", "https://bot:s3cr3t@github.com/acme/widgets.git"),
        ("git@example.com:acme/api.git", "ssh://git@EXAMPLE.com:22/acme/api"),
        ("https://bücher.example/a.git", "https://xn--bcher-kva.example/a"),
    ],
)
def test_a_remote_written_another_way_is_a_409(api: TestClient, first: str, again: str) -> None:
    created = api.post("/v1/repositories", json={"url": first})
    assert created.status_code == 201, created.text
    dup = api.post("/v1/repositories", json={"url": again})
    assert dup.status_code == 409, dup.text
    assert created.json()["id"] in dup.json()["error"]["message"]
    assert "s3cr3t" not in dup.text


def test_other_repositories_and_other_organisations_are_not_duplicates(
    api: TestClient, client: TestClient, other_tenant: Tenant
) -> None:
    for url in (
        "https://github.com/acme/widgets",
        "https://github.com/acme/widgets-2",
        "https://github.com:8443/acme/widgets",
    ):
        assert api.post("/v1/repositories", json={"url": url}).status_code == 201
    theirs = {"Authorization": f"Bearer {other_tenant.api_key}"}
    assert (
        client.post("/v1/repositories", json={"url": "https://github.com/acme/widgets"}, headers=theirs).status_code
        == 201
    )


def test_reconnecting_under_another_spelling_reuses_the_record(api: TestClient, tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit(ALICE, "2026-01-01T10:00:00Z", {"a.txt": lines(4)})
    first = api.post("/v1/repositories", json={"url": str(repo.path)}).json()
    api.delete(f"/v1/repositories/{first['id']}")
    again = api.post("/v1/repositories", json={"url": f"file://{repo.path}/.git"})
    assert again.status_code == 201
    assert again.json()["id"] == first["id"]
    assert again.json()["url"] == str(repo.path / ".git")


def test_the_migration_back_fills_identities_and_parks_duplicates(empty_database_url: str, tmp_path: Path) -> None:
    """Rows from before 0007 get their identity; a second row for the same repository keeps its record but is
    disconnected (so the unique index holds), and the connected one is kept."""
    repo = Repo(tmp_path / "repo")
    repo.commit(ALICE, "2026-01-01T10:00:00Z", {"a.txt": lines(4)})
    db = Database(empty_database_url)
    try:
        upgrade_to(db, "0005_merge_heads")
        now = datetime(2026, 1, 1, tzinfo=UTC)
        with db.engine.begin() as conn:
            conn.execute(
                sa.text("INSERT INTO organizations (id, name, created_at) VALUES ('org_1', 'o', :t)"), {"t": now}
            )
            for rid, url, status in (
                ("repo_a", f"{repo.path}/.git", "disconnected"),
                ("repo_b", str(repo.path), "connected"),
                ("repo_c", "https://GitHub.com/acme/w.git", "connected"),
                ("repo_d", str(tmp_path / "gone"), "connected"),
            ):
                conn.execute(
                    sa.text(OLD_ROW),
                    {
                        "id": rid,
                        "url": url,
                        "kind": "remote" if url.startswith("https") else "local",
                        "status": status,
                        "t": now,
                    },
                )
        upgrade_to(db, "head")
        with db.session() as session:
            rows = {r.id: r for r in session.scalars(sa.select(Repository))}
            assert rows["repo_b"].identity == f"local:{repo.path / '.git'}"
            assert rows["repo_b"].status == "connected"
            assert rows["repo_a"].identity == f"duplicate-of:repo_b:local:{repo.path / '.git'}"
            assert rows["repo_a"].status == "disconnected"
            assert rows["repo_c"].identity == "https://github.com/acme/w"
            assert rows["repo_d"].identity == f"local:{tmp_path / 'gone'}"
    finally:
        db.dispose()
