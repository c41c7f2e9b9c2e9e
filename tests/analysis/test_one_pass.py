"""One pass over history: when the change categories replay history, the commit reader's counts (commits, lines,
files, languages, hours, co-authors, names, skipped and adjusted commits) come from the replay's own stream, and
equal what the sharded `git log --numstat` read counts, on every case; when the replay fails, the commits are read
on their own."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gitproductivity.analysis import categories, exclusions, reader
from gitproductivity.core.db import Database
from tests.analysis.gitrepo import Repo, lines
from tests.analysis.hostile import damaged_history, literal, point_branch
from tests.analysis.test_categories import build_spread
from tests.analysis.test_first_parent_and_shards import analyse
from tests.analysis.test_ownership import ALICE, BOB, CAROL, DAVE

PATHS = exclusions.PathFilter(exclusions.DEFAULT_EXCLUDES)


def both(repo: Path, shas: list[str] | None = None) -> tuple[reader.Tally, reader.Tally]:
    """(the sharded `--numstat` read, the replay's) tallies of `shas` (default: all history)."""
    head = reader.list_commits(repo, "HEAD")[0]
    shas = shas if shas is not None else reader.list_commits(repo, head)
    expected = reader.read(repo, shas, PATHS, shards=3, min_shard=1)
    counts = reader.Parser(PATHS, oldest_first=True)
    result = categories.compute(repo, shas, PATHS, head=head, engine="replay", counts=counts)
    assert result.counts is not None
    return expected, result.counts


def as_tuple(tally: reader.Tally) -> tuple[Any, ...]:
    issues = tally.issues
    examples = {reason: sorted(shas) for reason, shas in issues.examples.items()}  # the first few seen, any order
    return (
        tally.commits,
        tally.days,
        tally.names,
        sorted(tally.co_authored),
        tally.languages,
        tally.hours,
        (issues.skipped, issues.adjusted, issues.adjusted_commits, examples),
    )


def every_case(repo: Repo) -> None:
    """`build_spread`'s history (merges clean and conflicting, renames, reverts, time zones), then: binary and
    empty files, a mode change, type changes both ways, a submodule, excluded files, co-authors, two names of one
    address in the same second, a path that is not UTF-8, and a side branch merged."""
    build_spread(repo)
    repo.commit(BOB, "2026-03-01T10:00:00+02:00", {"b.bin": b"\0\1\2", "empty.txt": "", "vendor/lib.js": lines(9)})
    (repo.path / "run.sh").write_text("echo\n")
    (repo.path / "run.sh").chmod(0o755)
    repo.commit(CAROL, "2026-03-02T10:00:00Z", {"run.sh": "echo\n", "package-lock.json": lines(40)})
    (repo.path / "link").symlink_to("run.sh")
    repo.git("add", "link")
    repo.commit(CAROL, "2026-03-03T10:00:00Z", {})
    (repo.path / "link").unlink()
    repo.commit(DAVE, "2026-03-04T10:00:00Z", {"link": lines(3, "now a file")})  # symlink -> file
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{repo.head()},sub")  # a submodule
    repo.git("commit", "-q", "-m", "submodule", env=repo._env(DAVE, "2026-03-05T10:00:00Z"))
    (repo.path / "x.txt").write_text("paired\n")
    repo.git("add", "x.txt")
    message = "pair\n\nCo-authored-by: Bob <bob@example.com>\nCo-authored-by: Eve <eve@example.com>\n"
    repo.git("commit", "-q", "-m", message, env=repo._env(ALICE, "2026-03-06T10:00:00-05:00"))
    repo.commit("Ed <ed@example.com>", "2026-03-07T10:00:00Z", {"x.txt": "one\n"})
    repo.commit("Edward Long <ed@example.com>", "2026-03-07T10:00:00Z", {"x.txt": "two\n"})  # the same second
    name = "caf\xe9.txt".encode("latin-1")
    (repo.path / name.decode("utf-8", "surrogateescape")).write_bytes(lines(4).encode())
    repo.git("add", "-A")
    repo.commit(BOB, "2026-03-08T10:00:00Z", {"b.bin": b"\0\3", "empty.txt": None})
    repo.git("checkout", "-q", "-b", "side")
    repo.commit(DAVE, "2026-03-09T10:00:00Z", {"side.py": lines(12, "side")})
    repo.git("checkout", "-q", "main")
    repo.commit(CAROL, "2026-03-09T11:00:00Z", {"main.py": lines(5, "main")})
    repo.merge(ALICE, "2026-03-10T10:00:00Z", "side")


def test_the_replay_counts_what_the_commit_reader_counts_on_every_case(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    every_case(repo)
    expected, got = both(repo.path)
    assert as_tuple(got) == as_tuple(expected)
    # Not a vacuous comparison: every kind of figure is there.
    assert expected.commits == len(repo.git("rev-list", "HEAD").split()) > 20
    assert sum(row[reader.MERGES] for row in expected.days.values()) >= 3
    assert expected.names["ed@example.com"][1] == "Edward Long"  # the later of two in the same second
    assert len(expected.co_authored) == 1 and expected.languages and expected.hours


def test_a_part_of_history_counts_only_those_commits(tmp_path: Path) -> None:
    """The replay reads all history but counts only the commits asked for (the first-parent chain, say)."""
    repo = Repo(tmp_path / "r")
    every_case(repo)
    chain = repo.git("rev-list", "--first-parent", "HEAD").split()
    expected, got = both(repo.path, chain)
    assert as_tuple(got) == as_tuple(expected)
    assert expected.commits == len(chain) < len(repo.git("rev-list", "HEAD").split())


def test_malformed_and_adjusted_authors_are_reported_the_same(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    first = repo.commit(ALICE, "2026-01-01T10:00:00Z", {"a.txt": lines(4)})
    tree = repo.git("rev-parse", "HEAD^{tree}")
    parent = first
    for author in (
        b"No Email 1767261600 +0000",  # malformed: skipped
        b"Far <far@example.com> 99999999999 +0000",  # a date far in the future: adjusted
        b"Zone <zone@example.com> 1767261600 +9999",  # an impossible offset
        b"<nobody@example.com> 1767261600 +0000",  # no name
    ):
        parent = literal(repo, tree=tree, parent=parent, author=author)
    point_branch(repo, parent)
    repo.git("reset", "-q", "--hard", parent)
    repo.commit(BOB, "2026-01-03T10:00:00Z", {"a.txt": lines(5)})
    expected, got = both(repo.path)
    assert as_tuple(got) == as_tuple(expected)
    assert expected.issues != type(expected.issues)()  # something was skipped or adjusted


def test_a_full_analysis_diffs_history_once(
    client: TestClient, database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the API: with the replay (a first analysis) the sharded read is not run, and the totals equal those
    of an analysis that reads the commits with `--numstat` beside the blame engine."""
    repo = Repo(tmp_path / uuid.uuid4().hex)
    every_case(repo)
    calls: list[int] = []
    real = reader.read

    def counted(*args: Any, **kwargs: Any) -> reader.Tally:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(reader, "read", counted)
    monkeypatch.setattr(categories, "REPLAY_MIN", 10**9)  # the blame engine, beside the sharded read
    apart = analyse(client, database, repo)
    assert calls == [1]
    monkeypatch.setattr(categories, "REPLAY_MIN", 1)  # the replay, which counts the commits too
    once = analyse(client, database, repo)
    assert calls == [1]
    assert once == apart and len(once) >= 4


def test_when_the_replay_fails_the_commits_are_read_on_their_own(
    client: TestClient, database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit whose tree is missing: git log stops there, so the replay gives up; the sharded read counts every
    other commit and reports the unreadable ones, as without the replay."""
    repo = Repo(tmp_path / uuid.uuid4().hex)
    damaged_history(repo, ALICE)
    repo.commit(BOB, "2026-01-03T10:00:00Z", {"a.txt": lines(4, "a").replace("a 1", "bob")})
    shas = reader.list_commits(repo.path, "HEAD")
    counts = reader.Parser(PATHS, oldest_first=True)
    assert categories.compute(repo.path, shas, PATHS, head=shas[0], engine="replay", counts=counts).counts is None
    monkeypatch.setattr(categories, "REPLAY_MIN", 10**9)
    apart = analyse(client, database, repo)
    monkeypatch.setattr(categories, "REPLAY_MIN", 1)
    assert analyse(client, database, repo) == apart
    assert {"alice@example.com", "bob@example.com"} <= set(apart)
