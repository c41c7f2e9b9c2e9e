from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Tenant


def test_connect_local_repository_and_disconnect(api: TestClient, git_repo: Path) -> None:
    resp = api.post("/v1/repositories", json={"url": str(git_repo)})
    assert resp.status_code == 201, resp.text
    repo = resp.json()
    assert repo["id"].startswith("repo_")
    assert repo["name"] == "sample-repo"
    assert repo["kind"] == "local"
    assert repo["status"] == "connected"
    assert api.get(f"/v1/repositories/{repo['id']}").json()["url"] == str(git_repo)

    events = api.get("/v1/events", params={"type": "repository.connected"}).json()["data"]
    assert [e["data"] for e in events] == [
        {"repository_id": repo["id"], "name": "sample-repo", "url": str(git_repo), "kind": "local"}
    ]

    resp = api.delete(f"/v1/repositories/{repo['id']}")
    assert resp.status_code == 200
    assert resp.json()["status"] == "disconnected"
    # The record stays.
    assert api.get(f"/v1/repositories/{repo['id']}").json()["status"] == "disconnected"
    assert len(api.get("/v1/repositories").json()["data"]) == 1
    assert api.get("/v1/repositories", params={"status": "connected"}).json()["data"] == []
    assert len(api.get("/v1/events", params={"type": "repository.disconnected"}).json()["data"]) == 1
    # Disconnecting twice emits nothing more.
    api.delete(f"/v1/repositories/{repo['id']}")
    assert len(api.get("/v1/events", params={"type": "repository.disconnected"}).json()["data"]) == 1


def test_reconnect_reuses_record_and_duplicate_is_409(api: TestClient, git_repo: Path) -> None:
    first = api.post("/v1/repositories", json={"url": f"file://{git_repo}", "name": "Custom"}).json()
    assert first["name"] == "Custom"
    dup = api.post("/v1/repositories", json={"url": str(git_repo)})
    assert dup.status_code == 409
    api.delete(f"/v1/repositories/{first['id']}")
    again = api.post("/v1/repositories", json={"url": str(git_repo)})
    assert again.status_code == 201
    assert again.json()["id"] == first["id"]
    assert len(api.get("/v1/events", params={"type": "repository.connected"}).json()["data"]) == 2


@pytest.mark.parametrize(
    ("url", "kind", "name"),
    [
        ("https://github.com/acme/widgets.git", "remote", "widgets"),
        ("https://gitlab.example.com/group/sub/tool", "remote", "tool"),
        ("ssh://git@example.com:2222/acme/api.git", "remote", "api"),
        ("git@github.com:acme/site.git", "remote", "site"),
    ],
)
def test_remote_urls_are_accepted_with_derived_names(api: TestClient, url: str, kind: str, name: str) -> None:
    resp = api.post("/v1/repositories", json={"url": url})
    assert resp.status_code == 201, resp.text
    assert (resp.json()["kind"], resp.json()["name"]) == (kind, name)


def test_credentials_in_url_are_never_shown(api: TestClient) -> None:
    resp = api.post("/v1/repositories", json={"url": "https://bot:s3cr3t-token@git.example.com/acme/app.git"})
    assert resp.status_code == 201
    assert "s3cr3t-token" not in resp.text
    assert resp.json()["url"] == "https://***@git.example.com/acme/app.git"
    assert "s3cr3t-token" not in api.get("/v1/events").text


@pytest.mark.parametrize(
    "url",
    [
        "--upload-pack=touch /tmp/pwned",
        "-oProxyCommand=evil",
        "ext::sh -c touch% /tmp/pwned",
        "fd::17",
        "http://example.com/repo.git",
        "git://example.com/repo.git",
        "ftp://example.com/repo.git",
        "relative/path",
        "/definitely/not/here",
        "~no-such-user-here/repo",  # found by schemathesis: was a 500 (expanduser raised)
        "https:///nohost",
        "",
        "   ",
    ],
)
def test_bad_urls_are_422_and_change_nothing(api: TestClient, url: str) -> None:
    resp = api.post("/v1/repositories", json={"url": url})
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["code"] == "validation_error"
    assert api.get("/v1/repositories").json()["data"] == []
    assert api.get("/v1/events").json()["data"] == []


def test_directory_that_is_not_a_repository_is_refused(api: TestClient, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    resp = api.post("/v1/repositories", json={"url": str(plain)})
    assert resp.status_code == 422
    assert "is not a git repository" in resp.json()["error"]["message"]


def test_bare_repository_is_accepted(api: TestClient, git_repo: Path, tmp_path: Path) -> None:
    import subprocess

    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(git_repo), str(bare)], check=True)
    resp = api.post("/v1/repositories", json={"url": str(bare)})
    assert resp.status_code == 201
    assert resp.json()["name"] == "bare"


def test_foreign_repository_is_404(api: TestClient, other_tenant: Tenant, git_repo: Path) -> None:
    repo = api.post("/v1/repositories", json={"url": str(git_repo)}).json()
    other = {"Authorization": f"Bearer {other_tenant.api_key}"}
    assert api.get(f"/v1/repositories/{repo['id']}", headers=other).status_code == 404
    assert api.delete(f"/v1/repositories/{repo['id']}", headers=other).status_code == 404
    assert api.get(f"/v1/repositories/{repo['id']}").json()["status"] == "connected"
