"""Ownership at the head equals `git blame --line-porcelain`, line for line: merges (clean and conflicting),
renames, moved blocks, reverts, ignored revisions, excluded and binary files; incrementally and in full; on
both databases, through the API and the CLI."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from gitproductivity.analysis import exclusions, ownership
from gitproductivity.core import settings
from gitproductivity.core.db import Database
from tests.analysis.gitrepo import Repo, drain, lines
from tests.analysis.ownership_truth import blame_owners, bus_factor
from tests.conftest import Tenant

ALICE = "Alice <alice@example.com>"
BOB = "Bob <bob@example.com>"
CAROL = "Carol <carol@example.com>"
DAVE = "Dave <dave@example.com>"
BOT = "dependabot[bot] <bot@example.com>"


def api_owners(api: TestClient, repo_id: str, path: str = "") -> dict[str, Any]:
    resp = api.get(f"/v1/repositories/{repo_id}/ownership", params={"path": path})
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


def check_against_blame(api: TestClient, repo: Repo, repo_id: str, *, ignore_revs: bool = True) -> dict[str, Any]:
    """Every directory's owners, lines and bus factor equal the blame count; returns the root's answer."""
    truth = blame_owners(repo, ignore_revs=ignore_revs)
    bots = {"bot@example.com"}
    seen: set[str] = set()
    todo = [""]
    root: dict[str, Any] = {}
    while todo:
        path = todo.pop()
        got = api_owners(api, repo_id, path)
        root = root or got
        seen.add(path)
        assert got["head_commit"] == repo.head()
        assert {o["email"]: o["lines"] for o in got["owners"]} == truth[path], path
        assert got["lines"] == sum(truth[path].values()), path
        assert got["bot_lines"] == sum(n for e, n in truth[path].items() if e in bots), path
        people = {e: n for e, n in truth[path].items() if e not in bots}
        assert got["bus_factor"] == bus_factor(people), path
        for sub in got["directories"]:
            assert sub["lines"] == sum(truth[sub["path"]].values())
            todo.append(sub["path"])
    assert seen == set(truth)  # every directory with counted lines is reachable from the root
    return root


def conflicting_merge(repo: Repo, author: str, when: str, branch: str, resolved: dict[str, str]) -> str:
    with pytest.raises(subprocess.CalledProcessError):
        repo.git("merge", "-q", "--no-ff", "--no-edit", branch, env=repo._env(author, when))
    for name, content in resolved.items():
        (repo.path / name).write_text(content)
        repo.git("add", "--", name)
    repo.git("commit", "-q", "--no-edit", env=repo._env(author, when))
    return repo.head()


def build(repo: Repo) -> None:
    """A history with every case the definitions name."""
    base = lines(12, "a")
    repo.commit(
        ALICE,
        "2026-01-01T10:00:00Z",
        {
            "src/app.py": base,
            "src/util.py": lines(6, "u"),
            "docs/guide.md": lines(4, "g"),
            "vendor/lib/x.py": lines(50, "v"),  # excluded
            "web/app.min.js": "x\n" * 7,  # excluded
            "package-lock.json": "{}\n" * 3,  # excluded
            "img/logo.png": b"\x89PNG\0\0binary\nstuff\n",  # binary
            "empty.txt": "",
        },
    )
    # A clean merge: Bob changes the top on a branch, Alice the bottom on main; Carol merges.
    repo.git("checkout", "-q", "-b", "top")
    top = base.replace("a 1\n", "bob 1\n").replace("a 2\n", "bob 2\n")
    repo.commit(BOB, "2026-01-02T10:00:00Z", {"src/app.py": top})
    repo.git("checkout", "-q", "main")
    repo.commit(ALICE, "2026-01-03T10:00:00Z", {"src/app.py": base.replace("a 10\n", "alice 10\n")})
    repo.merge(CAROL, "2026-01-04T10:00:00Z", "top")
    # A conflicting merge: both change line 5; Carol's resolution is a line of her own.
    merged = (repo.path / "src/app.py").read_text()
    repo.git("checkout", "-q", "-b", "clash")
    repo.commit(BOB, "2026-01-05T10:00:00Z", {"src/app.py": merged.replace("a 5\n", "bob 5\n")})
    repo.git("checkout", "-q", "main")
    repo.commit(DAVE, "2026-01-06T10:00:00Z", {"src/app.py": merged.replace("a 5\n", "dave 5\n")})
    conflicting_merge(
        repo, CAROL, "2026-01-07T10:00:00Z", "clash", {"src/app.py": merged.replace("a 5\n", "carol 5\nbob 5\n")}
    )
    # A rename with an edit, and a block moved within a file.
    (repo.path / "lib").mkdir()
    repo.rename(BOB, "2026-01-08T10:00:00Z", "src/util.py", "lib/util.py", lines(6, "u").replace("u 3", "bob 3"))
    guide = lines(4, "g")
    repo.commit(CAROL, "2026-01-09T10:00:00Z", {"docs/guide.md": guide + lines(5, "carol")})
    moved = lines(5, "carol") + guide
    repo.commit(DAVE, "2026-01-10T10:00:00Z", {"docs/guide.md": moved})
    # A change and its revert.
    repo.commit(BOB, "2026-01-11T10:00:00Z", {"lib/util.py": lines(9, "bob-rewrite")})
    repo.git("revert", "--no-edit", "HEAD", env=repo._env(ALICE, "2026-01-12T10:00:00Z"))
    # A bot's file, and an ignored reformatting commit.
    repo.commit(BOT, "2026-01-13T10:00:00Z", {"deps.txt": lines(3, "dep")})
    app = (repo.path / "src/app.py").read_text()
    reformat = repo.commit(DAVE, "2026-01-14T10:00:00Z", {"src/app.py": app.replace(" ", "  ")})
    repo.commit(ALICE, "2026-01-15T10:00:00Z", {".git-blame-ignore-revs": f"# formatting\n{reformat}\n"})


@pytest.mark.parametrize("replay", [False, True], ids=["blame", "replay"])
def test_ownership_equals_blame_and_survives_incremental_runs(
    api: TestClient, tmp_path: Path, database: Database, replay: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blamed file by file (a few files), or from a replay of history (as soon as `REPLAY_FILES` are to be
    blamed: the lines of an ignored revision and files only blame can tell are still blamed)."""
    if replay:
        monkeypatch.setattr(ownership, "REPLAY_FILES", 0)
    repo = Repo(tmp_path / "r")
    build(repo)
    repo_id = api.post("/v1/repositories", json={"url": str(repo.path)}).json()["id"]
    assert drain() == ["succeeded"]
    root = check_against_blame(api, repo, repo_id)
    assert root["files"] == 6  # app.py, guide.md, util.py, empty.txt, deps.txt, .git-blame-ignore-revs
    assert api.get(f"/v1/repositories/{repo_id}/ownership", params={"path": "vendor"}).status_code == 404
    assert api.get(f"/v1/repositories/{repo_id}/ownership", params={"path": "nope/x"}).status_code == 404

    # New commits: only the touched files are blamed again; the answer is still git blame's.
    repo.commit(BOB, "2026-02-01T10:00:00Z", {"src/new.py": lines(4, "n"), "docs/guide.md": lines(2, "bob")})
    repo.git("checkout", "-q", "-b", "side", "HEAD~1")
    repo.commit(CAROL, "2026-02-02T10:00:00Z", {"side.txt": lines(3, "s")})
    repo.git("checkout", "-q", "main")
    repo.merge(ALICE, "2026-02-03T10:00:00Z", "side")
    repo.git("revert", "--no-edit", "-m", "1", "HEAD", env=repo._env(DAVE, "2026-02-04T10:00:00Z"))
    # Changed and reverted: the same blob as before, but the revert now owns its lines.
    repo.commit(BOB, "2026-02-05T10:00:00Z", {"lib/util.py": lines(2, "tmp")})
    repo.git("revert", "--no-edit", "HEAD", env=repo._env(CAROL, "2026-02-06T10:00:00Z"))
    api.post(f"/v1/repositories/{repo_id}/analyses")
    assert drain() == ["succeeded"]
    incremental = check_against_blame(api, repo, repo_id)
    with database.session() as session:
        from gitproductivity.analysis.models import OwnershipState

        state = session.get(OwnershipState, repo_id)
        assert state is not None and state.mode == "incremental"
        assert state.files_blamed == 3  # src/new.py, docs/guide.md, lib/util.py (side.txt came and went)
    util = api_owners(api, repo_id, "lib")["owners"]
    assert [(o["email"], o["lines"]) for o in util] == [("carol@example.com", 6)]

    # A full computation finds the same.
    api.post(f"/v1/repositories/{repo_id}/analyses", json={"full": True})
    assert drain() == ["succeeded"]
    full = check_against_blame(api, repo, repo_id)
    assert {**full, "computed_at": None} == {**incremental, "computed_at": None}

    # A force-push recomputes.
    repo.git("reset", "-q", "--hard", "HEAD~2")
    repo.commit(CAROL, "2026-02-07T10:00:00Z", {"src/app.py": lines(3, "c")})
    api.post(f"/v1/repositories/{repo_id}/analyses")
    assert drain() == ["succeeded"]
    check_against_blame(api, repo, repo_id)


def test_ignore_revs_setting_off_and_cli(
    api: TestClient, tmp_path: Path, database: Database, tenant: Tenant, configured: Any
) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit(ALICE, "2026-01-01T10:00:00Z", {"a.txt": lines(4, "a")})
    reformat = repo.commit(DAVE, "2026-01-02T10:00:00Z", {"a.txt": lines(4, "a").replace(" ", "  ")})
    repo.commit(ALICE, "2026-01-03T10:00:00Z", {".git-blame-ignore-revs": f"{reformat}\n"})
    repo_id = api.post("/v1/repositories", json={"url": str(repo.path)}).json()["id"]
    assert drain() == ["succeeded"]
    assert {o["email"] for o in check_against_blame(api, repo, repo_id)["owners"]} == {"alice@example.com"}

    # Off: the reformatting commit owns its lines again (a rule change: everything is blamed again).
    configured(**{**settings._overrides, "ownership_ignore_revs": False})
    api.post(f"/v1/repositories/{repo_id}/analyses")
    assert drain() == ["succeeded"]
    root = check_against_blame(api, repo, repo_id, ignore_revs=False)
    assert {o["email"]: o["lines"] for o in root["owners"]} == {"dave@example.com": 4, "alice@example.com": 1}
    assert root["bus_factor"] == 1

    from gitproductivity.cli import app

    result = CliRunner().invoke(app, ["ownership", repo_id, "--org", tenant.organization_id, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["owners"][0]["email"] == "dave@example.com"
    table = CliRunner().invoke(app, ["ownership", repo_id, "--org", tenant.organization_id])
    assert table.exit_code == 0 and "Bus factor: 1" in table.output, table.output


def test_bus_factor() -> None:
    assert ownership.bus_factor({}) == 0
    assert ownership.bus_factor({"a": 5}) == 1
    assert ownership.bus_factor({"a": 5, "b": 5}) == 1  # one owns half: that is enough
    assert ownership.bus_factor({"a": 4, "b": 3, "c": 3}) == 2
    assert ownership.bus_factor({"a": 1, "b": 1, "c": 1, "d": 1, "e": 1}) == 3


def test_an_ignore_revs_line_git_would_refuse_is_skipped(tmp_path: Path) -> None:
    """git blame refuses a whole `--ignore-revs-file` for one abbreviated id; ownership uses the full ids."""
    repo = Repo(tmp_path / "r")
    repo.commit(ALICE, "2026-01-01T10:00:00Z", {"a.txt": lines(4, "a")})
    reformat = repo.commit(DAVE, "2026-01-02T10:00:00Z", {"a.txt": lines(4, "a").replace(" ", "  ")})
    repo.commit(
        ALICE, "2026-01-03T10:00:00Z", {".git-blame-ignore-revs": f"# style\nabc123\n{reformat.upper()}  # x\n"}
    )
    paths = exclusions.PathFilter(exclusions.DEFAULT_EXCLUDES)
    found = ownership.compute(repo.path, head=repo.head(), paths=paths, mailmap="", rules_fingerprint="", previous=None)
    assert found.by_directory()[""] == {"alice@example.com": 4 + 3}  # a.txt, and the three lines of the file


def test_a_replay_is_asked_for_only_when_much_of_the_tree_is_to_be_blamed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first computation asks for the replay of history; an incremental one that blames one file of twelve
    blames it (a replay costs all history)."""
    monkeypatch.setattr(ownership, "REPLAY_FILES", 1)
    repo = Repo(tmp_path / "r")
    repo.commit(ALICE, "2026-01-01T10:00:00Z", {f"f{i}.txt": lines(3, f"f{i}") for i in range(12)})
    asked: list[int] = []

    def known(ignored: set[str]) -> None:
        asked.append(len(ignored))
        return None  # nothing known: every file is blamed

    paths = exclusions.PathFilter(exclusions.DEFAULT_EXCLUDES)
    common: dict[str, Any] = {"paths": paths, "mailmap": "", "rules_fingerprint": "r", "known": known}
    first = ownership.compute(repo.path, head=repo.head(), previous=None, **common)
    assert asked == [0] and first.blamed == 12
    repo.commit(BOB, "2026-01-02T10:00:00Z", {"f0.txt": lines(2, "bob")})
    previous = ownership.Previous(first.head, first.fingerprint, first.files)
    again = ownership.compute(repo.path, head=repo.head(), previous=previous, **common)
    assert asked == [0] and again.blamed == 1


def test_an_incremental_computation_looks_up_only_the_commits_it_has_not_met(tmp_path: Path) -> None:
    """Who a commit is (identity, time, name) is kept between computations under the same rules: an incremental
    one asks git about the new commits only, and finds what a full one finds; under other rules nothing is reused."""
    repo = Repo(tmp_path / "r")
    first_commit = repo.commit(ALICE, "2026-01-01T10:00:00Z", {f"f{i}.txt": lines(3, f"f{i}") for i in range(4)})
    paths = exclusions.PathFilter(exclusions.DEFAULT_EXCLUDES)
    common: dict[str, Any] = {"paths": paths, "mailmap": "", "rules_fingerprint": "r"}
    first = ownership.compute(repo.path, head=repo.head(), previous=None, **common)
    assert first.met == {first_commit: ("alice@example.com", first.met[first_commit][1], "Alice")}
    bob = repo.commit(BOB, "2026-01-02T10:00:00Z", {"f0.txt": lines(2, "bob")})
    previous = ownership.Previous(first.head, first.fingerprint, first.files, first.met)
    again = ownership.compute(repo.path, head=repo.head(), previous=previous, **common)
    assert set(again.met) == {bob}
    full = ownership.compute(repo.path, head=repo.head(), previous=None, **common)
    assert set(full.met) == {first_commit, bob}
    assert (again.owners, again.names) == (full.owners, full.names)
    other_rules = ownership.compute(
        repo.path, head=repo.head(), previous=previous, **{**common, "rules_fingerprint": "x"}
    )
    assert set(other_rules.met) == {first_commit, bob}
