"""Hostile repository locations and contents: refused with a clear 422, or failed with a clear error on the
analysis, never a hang, and nothing written (no repository row, no developers, no metrics, no leftover clone)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gitproductivity.core import settings
from gitproductivity.core.db import Database
from gitproductivity.metrics.models import DailyRollup
from tests.analysis.gitrepo import Repo, drain, lines

ALICE = "Alice <alice@example.com>"


def _nothing_connected(api: TestClient) -> None:
    assert api.get("/v1/repositories").json()["data"] == []
    assert api.get("/v1/events").json()["data"] == []


def _nothing_counted(api: TestClient, database: Database) -> None:
    assert api.get("/v1/developers").json()["data"] == []
    assert api.get("/v1/metrics/developers").json()["data"] == []
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(DailyRollup)) == 0


def _failed_analysis(api: TestClient, repo_id: str) -> dict[str, Any]:
    [analysis] = api.get(f"/v1/repositories/{repo_id}/analyses").json()["data"]
    assert analysis["status"] == "failed", analysis
    return dict(analysis)


@pytest.mark.parametrize(
    "url",
    [
        "-",
        "--upload-pack=touch {marker}",
        "  --upload-pack=touch {marker}",
        "-u touch {marker}",
        "--config=core.sshCommand=touch {marker}",
        "ext::sh -c touch% {marker}",
        "EXT::sh -c id",
        "fd::0",
        "fd::3,4",
        "transport::anything",
        "ssh://-oProxyCommand=touch%20{quoted}/repo.git",
        "ssh://-oProxyCommand=x@example.com/repo.git",
        "git@-oProxyCommand=x:repo.git",
        "git@-evil:repo.git",
        "file:///etc/passwd",
    ],
)
def test_option_injection_and_helpers_are_refused(api: TestClient, url: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"  # this test's own: what another test (or process) made cannot pass or fail it
    url = url.format(marker=marker, quoted=urllib.parse.quote(str(marker), safe=""))
    resp = api.post("/v1/repositories", json={"url": url})
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["code"] == "validation_error"
    assert resp.json()["error"]["details"][0]["field"] == "url"
    _nothing_connected(api)
    assert not marker.exists()


@pytest.fixture
def roots(database: Database, database_url: str, tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """An allowed root holding a repository, and a repository outside it."""
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    for base in (allowed, outside):
        Repo(base / "repo").commit(ALICE, "2026-01-01T10:00:00Z", {"a.txt": lines(3)})
    settings.configure(database_url=database_url, data_dir=tmp_path / "data", git_allowed_roots=str(allowed))
    yield allowed, outside


def test_local_repositories_outside_the_allowed_roots_are_refused(
    api: TestClient, roots: tuple[Path, Path], tmp_path: Path
) -> None:
    allowed, outside = roots
    (allowed / "link").symlink_to(outside / "repo")  # a symlink inside the root to a repository outside it
    worktree = allowed / "worktree"  # a `.git` file pointing outside
    worktree.mkdir()
    (worktree / ".git").write_text(f"gitdir: {outside / 'repo' / '.git'}\n")
    borrowing = allowed / "borrowing"  # objects borrowed from outside
    Repo(borrowing)
    (borrowing / ".git" / "objects" / "info" / "alternates").write_text(f"{outside / 'repo' / '.git' / 'objects'}\n")
    for url in (
        str(outside / "repo"),
        f"file://{outside / 'repo'}",
        f"{allowed}/../outside/repo",
        f"file://{allowed}/../outside/repo",
        str(allowed / "link"),
        str(worktree),
        str(borrowing),
    ):
        resp = api.post("/v1/repositories", json={"url": url})
        assert resp.status_code == 422, (url, resp.text)
        assert "outside the allowed local roots" in resp.json()["error"]["message"], url
    _nothing_connected(api)

    inside = api.post("/v1/repositories", json={"url": f"file://{allowed / 'repo'}"})
    assert inside.status_code == 201, inside.text
    assert inside.json()["url"] == str((allowed / "repo").resolve())


def test_a_repository_swapped_for_a_symlink_after_connecting_is_not_read(
    api: TestClient, roots: tuple[Path, Path], database: Database
) -> None:
    allowed, outside = roots
    repo = api.post("/v1/repositories", json={"url": str(allowed / "repo")}).json()
    shutil.rmtree(allowed / "repo")
    (allowed / "repo").symlink_to(outside / "repo")
    assert drain() == ["failed"]
    error = _failed_analysis(api, repo["id"])["error"]
    assert "no longer a git repository, or lies outside the allowed local roots" in error
    _nothing_counted(api, database)


def _corrupt_loose_objects(path: Path) -> None:
    for obj in (path / ".git" / "objects").glob("??/*"):
        obj.chmod(0o644)
        obj.write_bytes(b"\x78\x9cgarbage, not zlib")


def _truncate_pack(path: Path) -> None:
    subprocess.run(["git", "-C", str(path), "gc", "-q"], check=True, env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1"})
    [pack] = (path / ".git" / "objects" / "pack").glob("*.pack")
    pack.chmod(0o644)
    data = pack.read_bytes()
    pack.write_bytes(data[: len(data) // 2])


def _unborn_garbage_head(path: Path) -> None:
    (path / ".git" / "refs" / "heads" / "main").write_text("0123456789abcdef0123456789abcdef01234567\n")


@pytest.mark.parametrize("damage", [_corrupt_loose_objects, _truncate_pack, _unborn_garbage_head])
def test_corrupt_repositories_fail_with_gits_message(
    api: TestClient, database: Database, tmp_path: Path, damage: object
) -> None:
    repo = Repo(tmp_path / "corrupt")
    for day in range(1, 6):
        repo.commit(ALICE, f"2026-01-0{day}T10:00:00Z", {f"f{day}.txt": lines(50 * day)})
    damage(repo.path)  # type: ignore[operator]
    created = api.post("/v1/repositories", json={"url": str(repo.path)}).json()
    started = time.monotonic()
    assert drain() == ["failed"]
    assert time.monotonic() - started < 30
    error = _failed_analysis(api, created["id"])["error"]
    assert error.startswith("git ") and len(error) < 2000, error
    _nothing_counted(api, database)


class _Silent:
    """A TCP server on loopback that accepts connections and never says a word (a stuck remote)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.mark.slow  # waits out a real git timeout
@pytest.mark.parametrize("scheme", ["https", "ssh"])
def test_a_remote_that_never_answers_is_abandoned_at_the_git_timeout(
    api: TestClient, database: Database, database_url: str, tmp_path: Path, scheme: str
) -> None:
    settings.configure(
        database_url=database_url, data_dir=tmp_path / "data", git_timeout=1.5, git_allowed_networks="127.0.0.0/8"
    )
    silent = _Silent()
    try:
        created = api.post("/v1/repositories", json={"url": f"{scheme}://git@127.0.0.1:{silent.port}/big.git"})
        assert created.status_code == 201, created.text
        started = time.monotonic()
        assert drain() == ["failed"]
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert silent.held, "git never connected: the test did not exercise a stuck transfer"
    assert 1.4 < elapsed < 15
    assert _failed_analysis(api, created.json()["id"])["error"] == "git clone timed out after 1.5 s"
    clones = tmp_path / "data" / "repositories"
    assert not clones.exists() or list(clones.iterdir()) == []  # the partial clone was removed
    _nothing_counted(api, database)


def _big_history(path: Path, commits: int) -> None:
    """`commits` commits in one fast-import stream (seconds, not minutes)."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    stream = []
    for i in range(commits):
        data = f"line {i}\n"
        stream.append(
            f"commit refs/heads/main\ncommitter Alice <alice@example.com> {1_700_000_000 + i * 60} +0000\n"
            f"data 2\nc\nM 644 inline f{i % 50}.txt\ndata {len(data)}\n{data}\n"
        )
    subprocess.run(["git", "-C", str(path), "fast-import", "--quiet"], input="".join(stream).encode(), check=True)


@pytest.mark.slow  # a 6,000-commit history, analysed twice
def test_a_history_too_big_for_the_git_timeout_fails_cleanly(
    api: TestClient, database: Database, database_url: str, tmp_path: Path
) -> None:
    """The git timeout, compressed to 20 ms, bounds an analysis of a large history (read by one git process):
    it fails with a clear error and writes nothing; with the default timeout the same repository is analysed."""
    _big_history(tmp_path / "big", 6000)
    settings.configure(database_url=database_url, data_dir=tmp_path / "data", git_timeout=0.02, analysis_shards=1)
    created = api.post("/v1/repositories", json={"url": str(tmp_path / "big")}).json()
    assert drain() == ["failed"]
    assert "timed out after 0.02 s" in _failed_analysis(api, created["id"])["error"]
    _nothing_counted(api, database)

    settings.configure(database_url=database_url, data_dir=tmp_path / "data")
    assert api.post(f"/v1/repositories/{created['id']}/analyses").status_code == 202
    assert drain() == ["succeeded"]
    [row] = api.get("/v1/metrics/developers").json()["data"]
    assert row["totals"]["commits"] == 6000
