"""Commits git accepts are never fatal: odd authors are normalised and counted, unreadable ones skipped and counted.

Every history here is made by the git binary: `git commit` with hostile environment variables, and raw commit
objects (`git hash-object -t commit --literally`) wired into the branch with `git update-ref`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gitproductivity.analysis import git, reader
from gitproductivity.analysis.exclusions import PathFilter
from gitproductivity.core.db import Database
from tests.analysis.gitrepo import Repo, drain, lines
from tests.analysis.hostile import git_bytes, history, literal, point_branch
from tests.conftest import Tenant
from tests.test_cli import run

NORMAL = "Ann Normal <ann@example.com>"


def analyse(api: TestClient, repo: Repo) -> dict[str, Any]:
    repo_id = api.post("/v1/repositories", json={"url": str(repo.path)}).json()["id"]
    assert drain() == ["succeeded"]
    analyses = api.get(f"/v1/repositories/{repo_id}/analyses").json()["data"]
    result: dict[str, Any] = analyses[0]
    return result


def reasons(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {row["reason"]: row["count"] for row in rows}


def developers(api: TestClient) -> dict[str, dict[str, Any]]:
    rows = api.get("/v1/metrics/developers", params={"include_bots": "true"}).json()["data"]
    return {row["email"]: row for row in rows}


def test_git_commit_with_control_characters_and_far_future_dates_is_counted(api: TestClient, tmp_path: Path) -> None:
    repo = Repo(tmp_path / "project")
    repo.commit(NORMAL, "2026-01-05T10:00:00Z", {"a.txt": lines(3)})
    # \x1f and \x1e were the old reader's separators ("too many values to unpack"); \x01 and DEL are controls too.
    env = {
        "GIT_AUTHOR_NAME": "Ctl\x1fName\x1e\x01\x7f",
        "GIT_AUTHOR_EMAIL": "ctl\x1f@example.com",
        "GIT_AUTHOR_DATE": "@99999999999999 +0000",  # year 3170843: "OverflowError" before
        "GIT_COMMITTER_NAME": "Com Mitter",
        "GIT_COMMITTER_EMAIL": "c@example.com",
        "GIT_COMMITTER_DATE": "2026-01-06T10:00:00Z",
    }
    (repo.path / "b.txt").write_text(lines(2))
    repo.git("add", "b.txt")
    repo.git("commit", "-q", "-m", "hostile", env=env)
    both_far = env | {"GIT_AUTHOR_NAME": "Far Future", "GIT_AUTHOR_EMAIL": "far@example.com"}
    both_far |= {"GIT_AUTHOR_DATE": "@253402300800 +0000", "GIT_COMMITTER_DATE": "@253402300800 +0000"}  # 10000-01-01
    repo.git("commit", "-q", "--allow-empty", "-m", "far", env=both_far)

    done = analyse(api, repo)
    assert done["status"] == "succeeded", done["error"]
    assert (done["commits_analysed"], done["skipped_commits"], done["adjusted_commits"]) == (3, 0, 2)
    assert reasons(done["adjusted_reasons"]) == {"control_characters": 1, "author_date_replaced": 1, "date_clamped": 1}
    devs = developers(api)
    assert devs["ctl@example.com"]["name"] == "Ctl Name"
    # The author date past 9999 is replaced by the committer date; with both past it, the last day that exists.
    assert devs["ctl@example.com"]["totals"]["first_commit_at"] == "2026-01-06T10:00:00Z"
    assert devs["ctl@example.com"]["totals"]["lines_added"] == 2
    assert devs["far@example.com"]["totals"]["last_commit_at"] == "9999-12-31T23:59:59Z"


def test_crafted_commits_are_normalised_or_skipped_and_every_commit_is_accounted_for(
    api: TestClient, tmp_path: Path
) -> None:
    repo = Repo(tmp_path / "crafted")
    base = repo.commit(NORMAL, "2026-01-05T10:00:00Z", {"a.txt": lines(3)})
    tree = repo.git("rev-parse", "HEAD^{tree}")
    crafted: dict[str, bytes | tuple[bytes, bytes]] = {
        "missing_email": b"No Mail <> 1767225600 +0000",
        "no_email_brackets": b"Name nobrackets@example.com 1767225600 +0000",  # git cannot parse: no author
        "negative_date": b"Neg Date <neg@example.com> -5 +0000",  # committer date used
        "text_date": b"Text Date <text@example.com> yesterday +0000",  # committer date used
        "huge_date": b"Huge Date <huge@example.com> 99999999999999999999 +0000",
        "invalid_utf8": b"Bad \xff\xfe UTF <utf@example.com> 1767225600 +0000",
        "separators": b"\x1eSep\x1f\x00Name <sep\x1e@example.com> 1767225600 +0000",  # NUL ends git's reading
        "garbage_headers": (b"Gar Bage <garbage@example.com> 1767225600 +0000", b"x\x1fjunk y\nencoding UTF-16\n"),
        "no_date": b"No Date <nodate@example.com>",  # committer date used
    }
    parent = base
    shas: dict[str, str] = {}
    for label, author in crafted.items():
        line, extra = author if isinstance(author, tuple) else (author, b"")
        parent = shas[label] = literal(repo, tree=tree, parent=parent, author=line, extra=extra)
    # No author line at all; and a commit whose author name and e-mail are its parent's id (the next header).
    parent = shas["no_author"] = literal(repo, tree=tree, parent=parent, author=b"", extra=b"")
    shas["parent_as_name"] = literal(
        repo, tree=tree, parent=parent, author=parent.encode() + b" <" + parent.encode() + b"> 1767225600 +0000"
    )
    point_branch(repo, shas["parent_as_name"])
    # Neither author nor committer date usable: nothing to count the commit on.
    bad_dates = b"tree " + tree.encode() + b"\nparent " + shas["parent_as_name"].encode()
    bad_dates += b"\nauthor Nod <nod@example.com> abc +0000\ncommitter Nod <nod@example.com> -1 +0000\n\nm\n"
    shas["invalid_date"] = (
        git_bytes(repo.path, "hash-object", "-t", "commit", "--literally", "-w", "--stdin", input=bad_dates)
        .stdout.decode()
        .strip()
    )
    # A commit whose tree is missing: git log cannot diff it, nor its child against it.
    missing_tree = literal(
        repo, tree="1" * 40, parent=shas["invalid_date"], author=b"Lost Tree <lost@example.com> 1767225600 +0000"
    )
    child = literal(repo, tree=tree, parent=missing_tree, author=b"Child <child@example.com> 1767225600 +0000")
    (repo.path / "z.txt").write_text(lines(4))
    repo.git("add", "z.txt")
    point_branch(repo, child)
    repo.git("reset", "-q", "--soft", child)
    top = repo.commit(NORMAL, "2026-01-07T10:00:00Z", {"z.txt": lines(4)})

    total = len(history(repo))
    done = analyse(api, repo)
    assert done["status"] == "succeeded", done["error"]
    assert done["head_commit"] == top
    assert done["commits_analysed"] + done["skipped_commits"] == total == 16
    skipped = {row["reason"]: row for row in done["skipped_reasons"]}
    assert {r: row["count"] for r, row in skipped.items()} == {
        "missing_email": 1,
        "no_author": 3,  # no brackets, the NUL inside the line, no author line
        "invalid_date": 1,
        "unreadable": 2,
    }
    assert sorted(skipped["unreadable"]["examples"]) == sorted([missing_tree, child])
    assert skipped["missing_email"]["examples"] == [shas["missing_email"]]
    adjusted = reasons(done["adjusted_reasons"])
    assert adjusted["author_date_replaced"] == 4  # negative, text, past 9999, none
    assert adjusted["invalid_utf8"] == 1

    devs = developers(api)
    assert devs["ann@example.com"]["totals"]["commits"] == 2
    assert devs["ann@example.com"]["totals"]["lines_added"] == 3 + 4
    assert devs["utf@example.com"]["name"] == "Bad \ufffd\ufffd UTF"
    assert devs["huge@example.com"]["totals"]["first_commit_at"] == "2026-01-01T00:00:00Z"  # the committer's
    # The name and e-mail equal to the next commit's id are data, not a header: counted as written.
    assert devs[shas["no_author"]]["name"] == shas["no_author"]

    complete = api.get("/v1/events", params={"type": "analysis.complete"}).json()["data"]
    assert [e["data"]["skipped_commits"] for e in complete] == [done["skipped_commits"]]


def test_the_repositories_page_says_how_many_commits_were_skipped_and_why(
    api: TestClient, tenant: Tenant, tmp_path: Path
) -> None:
    repo = Repo(tmp_path / "shown")
    base = repo.commit(NORMAL, "2026-01-05T10:00:00Z", {"a.txt": lines(3)})
    tree = repo.git("rev-parse", "HEAD^{tree}")
    no_mail = literal(repo, tree=tree, parent=base, author=b"No Mail <> 1767225600 +0000")
    point_branch(repo, literal(repo, tree=tree, parent=no_mail, author=b"No Mail Either <> 1767225600 +0000"))
    assert analyse(api, repo)["skipped_commits"] == 2

    page = api.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    form = {"email": tenant.email, "password": tenant.password, "csrf_token": token.group(1)}
    assert api.post("/login", data=form, follow_redirects=False).status_code == 303
    html = api.get("/repositories", headers={"Accept": "text/html"}).text
    assert "2 commits skipped (2 missing email)" in html
    assert no_mail in html  # an example, in the tooltip


def test_new_commits_that_cannot_be_read_are_skipped_by_an_incremental_analysis(
    api: TestClient, tmp_path: Path
) -> None:
    repo = Repo(tmp_path / "incremental")
    base = repo.commit(NORMAL, "2026-01-05T10:00:00Z", {"a.txt": lines(3)})
    repo_id = api.post("/v1/repositories", json={"url": str(repo.path)}).json()["id"]
    assert drain() == ["succeeded"]
    tree = repo.git("rev-parse", "HEAD^{tree}")
    # Every new commit is unreadable (a missing tree, and its child diffed against it), yet the repository is fine.
    lost = literal(repo, tree="2" * 40, parent=base, author=b"Lost <lost@example.com> 1767225600 +0000")
    head = literal(repo, tree=tree, parent=lost, author=b"Child <child@example.com> 1767225600 +0000")
    point_branch(repo, head)
    api.post(f"/v1/repositories/{repo_id}/analyses")
    assert drain() == ["succeeded"]
    done = api.get(f"/v1/repositories/{repo_id}/analyses").json()["data"][0]
    assert (done["mode"], done["head_commit"], done["commits_analysed"]) == ("incremental", head, 0)
    assert reasons(done["skipped_reasons"]) == {"unreadable": 2}
    # git cannot blame past the missing tree: the file's lines are unattributed, the analysis still succeeds.
    owned = api.get(f"/v1/repositories/{repo_id}/ownership").json()
    assert (owned["head_commit"], owned["lines"], owned["unattributed_lines"], owned["owners"]) == (head, 3, 3, [])
    # A repository that is gone is not "every commit skipped": the analysis fails and the metrics stay.
    point_branch(repo, literal(repo, tree=tree, parent=head, author=b"Next <next@example.com> 1767225600 +0000"))
    objects = repo.path / ".git" / "objects"
    objects.rename(repo.path / ".git" / "objects-gone")
    api.post(f"/v1/repositories/{repo_id}/analyses")
    assert drain() == ["failed"]
    assert developers(api)["ann@example.com"]["totals"]["commits"] == 1


def test_a_repository_that_vanishes_while_it_is_read_fails_instead_of_skipping_everything(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "vanishing")
    for day in range(1, 4):
        repo.commit(NORMAL, f"2026-01-0{day}T10:00:00Z", {"a.txt": lines(day)})
    listed = reader.list_commits(repo.path, repo.head())
    (repo.path / ".git" / "objects").rename(repo.path / ".git" / "objects-gone")
    with pytest.raises(git.GitError):
        reader.read(repo.path, listed, PathFilter([], []), shards=1)


@pytest.mark.slow  # the real CLI as subprocesses
def test_the_cli_says_how_many_commits_were_skipped(database: Database, database_url: str, tmp_path: Path) -> None:
    repo = Repo(tmp_path / "cli")
    base = repo.commit(NORMAL, "2026-01-05T10:00:00Z", {"a.txt": lines(3)})
    tree = repo.git("rev-parse", "HEAD^{tree}")
    point_branch(repo, literal(repo, tree=tree, parent=base, author=b"No Mail <> 1767225600 +0000"))
    run(database_url, "init", "--email", "boss@example.com")
    repo_id = json.loads(run(database_url, "repositories", "connect", str(repo.path), "--json").stdout)["id"]
    done = run(database_url, "repositories", "analyze", repo_id)
    assert "succeeded: full (first), 1 commits read" in done.stdout
    assert "1 commit skipped (1 missing email)" in done.stdout


def test_huge_names_and_a_hostile_mailmap_are_bounded_and_cleaned(api: TestClient, tmp_path: Path) -> None:
    repo = Repo(tmp_path / "bounded")
    repo.commit(NORMAL, "2026-01-05T10:00:00Z", {"a.txt": lines(3)})
    # .mailmap is the repository's too: what it maps to is cleaned like any name.
    repo.commit(
        NORMAL, "2026-01-06T10:00:00Z", {".mailmap": "Ann\x1b[31m\u202eRed <ann@example.com> <ann@example.com>\n"}
    )
    tree = repo.git("rev-parse", "HEAD^{tree}")
    long_email = b"x" * 1000 + b"@example.com"
    author = b"N" * 5000 + b" <" + long_email + b"> 1767225600 +0000"
    point_branch(repo, literal(repo, tree=tree, parent=repo.head(), author=author))

    done = analyse(api, repo)
    assert done["status"] == "succeeded", done["error"]
    assert (done["commits_analysed"], done["skipped_commits"]) == (3, 0)
    assert reasons(done["adjusted_reasons"]) == {"truncated": 1, "control_characters": 2}
    devs = developers(api)
    assert devs["ann@example.com"]["name"] == "Ann [31m Red"
    [long] = [d for e, d in devs.items() if e.startswith("xxx")]
    assert len(long["email"]) == 320 and long["name"] == "N" * 200
