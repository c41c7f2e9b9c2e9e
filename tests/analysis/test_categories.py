"""Change categories equal a brute force over full `git blame <parent> -- file` (merges clean and conflicting,
renames, moved blocks, reverts, ignored revisions, time zones, two windows); a hand-worked example with known
answers through the API, the CLI and `metrics.updated`; co-authors from real trailers; incremental == full."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from gitproductivity.analysis import categories, exclusions
from gitproductivity.core import settings
from gitproductivity.core.db import Database
from tests.analysis.categories_truth import brute_force
from tests.analysis.gitrepo import Repo, drain, lines
from tests.analysis.test_ownership import ALICE, BOB, CAROL, DAVE, build
from tests.conftest import Tenant

PATHS = exclusions.PathFilter(exclusions.DEFAULT_EXCLUDES)


@pytest.fixture(autouse=True)
def scratch_data_dir(tmp_path: Path, configured: Any) -> None:
    """The private commit-graphs (`analysis.commit_graphs.shadow`) go under the test's own data directory."""
    configured(**{**settings._overrides, "data_dir": tmp_path / "data", "categories_commit_graph": True})


def engine(repo: Repo, *, commit_graph: bool = False) -> dict[str, tuple[int, int, int, int]]:
    """commit -> (new work, refactor, rework, help others) by the engine, rework by identity: the replay of all
    history and one blame per changed file give the same figures."""
    replayed = one_engine(repo, commit_graph=commit_graph, mode="replay")
    assert one_engine(repo, commit_graph=commit_graph, mode="blame") == replayed
    return replayed


def one_engine(repo: Repo, *, commit_graph: bool, mode: categories.Engine) -> dict[str, tuple[int, int, int, int]]:
    shas = repo.git("rev-list", "HEAD").split()
    result = categories.compute(
        repo.path, shas, PATHS, head=repo.head(), workers=2, commit_graph=commit_graph, engine=mode
    )
    out = {}
    for c in result.commits:
        if c.merge:
            continue
        rework = c.young.get(c.identity, 0)
        out[c.sha] = (c.new_work, c.refactor, rework, sum(c.young.values()) - rework)
    return out


def truth(repo: Repo, **options: Any) -> dict[str, tuple[int, int, int, int]]:
    return {sha: f.as_tuple() for sha, f in brute_force(repo, **options).items()}


def build_spread(repo: Repo) -> None:
    """`build`'s history (every case), then more commits weeks apart in several time zones: lines both younger
    and older than the window are deleted, by their authors and by others."""
    build(repo)
    app = (repo.path / "src/app.py").read_text().splitlines(keepends=True)
    app[0:3] = ["alice late 0\n", "alice late 1\n"]
    repo.commit(ALICE, "2026-02-20T23:30:00-08:00", {"src/app.py": "".join(app)})  # next UTC day
    app[5:7] = []
    app.append("bob tail\n")
    repo.commit(BOB, "2026-02-21T09:00:00+05:30", {"src/app.py": "".join(app)})
    app[0:1] = ["bob again\n"]
    repo.commit(BOB, "2026-02-22T10:00:00Z", {"src/app.py": "".join(app), "lib/util.py": None})
    guide = (repo.path / "docs/guide.md").read_text().splitlines(keepends=True)
    repo.rename(CAROL, "2026-02-23T10:00:00+01:00", "docs/guide.md", "docs/manual.md", "".join(guide[2:]) + "c\n")


def test_categories_equal_brute_force_blame(tmp_path: Path, configured: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = Repo(tmp_path / "r")
    build_spread(repo)
    expected = truth(repo)
    # A few commits to blame: no commit-graph is written for them (it would cost more than it saves).
    assert one_engine(repo, commit_graph=False, mode="blame") == expected
    assert not (Path(settings.get_settings().data_dir) / "commit-graphs").exists()
    monkeypatch.setattr(categories, "REPLAY_MIN", 1)  # as many as a first analysis: blamed through one
    assert engine(repo) == expected
    assert any(f[1] for f in expected.values()) and any(f[2] for f in expected.values())  # refactor and rework
    assert any(f[3] for f in expected.values())  # help to others
    # Blamed through a private commit-graph (the default for local repositories; the repository is not written
    # to) or in the repository itself; stopped at the window (`--since`, the default) or not: the same answers.
    assert list((Path(settings.get_settings().data_dir) / "commit-graphs").glob("*.git/objects/info/commit-graph*"))
    assert not (repo.path / ".git/objects/info/commit-graphs").exists()
    configured(**{**settings._overrides, "categories_commit_graph": False, "categories_since": False})
    assert engine(repo) == expected
    configured(**{**settings._overrides, "categories_commit_graph": True, "categories_since": True})
    # Another window: other answers, still blame's; with a commit-graph (as for mirrors of remotes) too.
    configured(**{**settings._overrides, "churn_window_days": 3})
    narrow = truth(repo, window_days=3)
    assert narrow != expected and engine(repo) == narrow
    assert engine(repo, commit_graph=True) == narrow
    assert (repo.path / ".git/objects/info/commit-graphs").is_dir()
    # Ignored revisions off: the reformatting commit counts, and blame of later parents no longer skips it.
    configured(**{**settings._overrides, "categories_ignore_revs": False})
    assert engine(repo) == truth(repo, window_days=3, ignore_revs=False)


def test_ignored_revision_counts_nothing_and_parents_skip_it(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit(ALICE, "2026-01-01T10:00:00Z", {"a.txt": lines(4, "a")})
    reformat = repo.commit(DAVE, "2026-01-02T10:00:00Z", {"a.txt": lines(4, "a").replace(" ", "  ")})
    edit = repo.commit(BOB, "2026-01-03T10:00:00Z", {"a.txt": lines(4, "a").replace(" ", "  ").replace("3", "x")})
    repo.commit(ALICE, "2026-01-04T10:00:00Z", {".git-blame-ignore-revs": f"{reformat}\n"})
    got = engine(repo)
    assert got[reformat] == (0, 0, 0, 0)
    assert got[edit] == (0, 0, 0, 1)  # Alice's line (the reformat is looked through), not Dave's
    assert got == truth(repo)


def figures(api: TestClient, dev_id: str) -> dict[str, Any]:
    resp = api.get(f"/v1/developers/{dev_id}/metrics")
    assert resp.status_code == 200, resp.text
    return resp.json()["totals"]  # type: ignore[no-any-return]


def hand_worked(repo: Repo) -> None:
    """The example of docs/metrics.md, window 21 days."""
    # 1. Jan 1, Alice writes 10 lines: new work 10.
    repo.commit(ALICE, "2026-01-01T10:00:00Z", {"a.txt": lines(10, "alice")})
    # 2. Jan 5, Bob replaces Alice's lines 0-1 with three lines (one hunk, -2 +3): help others 2, new work 1.
    text = lines(10, "alice").splitlines(keepends=True)
    text[0:2] = ["bob 0\n", "bob 1\n", "bob 2\n"]
    repo.commit(BOB, "2026-01-05T10:00:00Z", {"a.txt": "".join(text)})
    # 3. Jan 6, Alice changes Bob's first line and her own last line (two hunks, -1 +1): help 1, rework 1.
    text[0] = "alice fix\n"
    text[-1] = "alice 9 again\n"
    repo.commit(ALICE, "2026-01-06T10:00:00Z", {"a.txt": "".join(text)})
    # 4. Feb 20, Bob deletes Alice's Jan-1 lines 3 and 4 (50 days old) and adds 4 lines at the end, with Carol
    #    and Dave as co-authors (Carol twice, Bob himself once: credited once each, never the author).
    del text[4:6]
    text += ["bob new 0\n", "bob new 1\n", "bob new 2\n", "bob new 3\n"]
    (repo.path / "a.txt").write_text("".join(text))
    repo.git("add", "a.txt")
    message = (
        "tidy\n\nCo-authored-by: Carol <carol@example.com>\nCo-authored-by: Dave <DAVE@example.com>\n"
        "Co-authored-by: Carol <carol@example.com>\nCo-authored-by: Bob <bob@example.com>\n"
    )
    repo.git("commit", "-q", "-m", message, env=repo._env(BOB, "2026-02-20T10:00:00Z"))


def test_hand_worked_example_through_api_cli_and_events(
    api: TestClient, tmp_path: Path, database: Database, tenant: Tenant
) -> None:
    repo = Repo(tmp_path / "r")
    hand_worked(repo)
    repo_id = api.post("/v1/repositories", json={"url": str(repo.path)}).json()["id"]
    assert drain() == ["succeeded"]
    rows = api.get("/v1/metrics/developers", params={"sort": "-help_others"}).json()["data"]
    by_email = {r["email"]: r for r in rows}
    keys = ("new_work", "refactor", "rework", "help_others", "co_authored_commits", "commits", "active_days")
    got = {e: tuple(r["totals"][k] for k in keys) for e, r in by_email.items()}
    assert got == {
        "alice@example.com": (10, 0, 1, 1, 0, 2, 2),
        "bob@example.com": (5, 2, 0, 2, 0, 2, 2),
        "carol@example.com": (0, 0, 0, 0, 1, 0, 1),
        "dave@example.com": (0, 0, 0, 0, 1, 0, 1),
    }
    assert [r["email"] for r in rows][:2] == ["bob@example.com", "alice@example.com"]  # sorted by help_others
    assert figures(api, by_email["carol@example.com"]["developer_id"])["co_authored_commits"] == 1
    # Deleted lines are exactly rework + help others + refactor.
    for row in rows:
        t = row["totals"]
        assert t["lines_deleted"] == t["rework"] + t["help_others"] + t["refactor"]
    # metrics.updated carries the figures.
    events = api.get("/v1/events", params={"type": "metrics.updated"}).json()["data"]
    bob = next(e["data"] for e in events if e["data"]["email"] == "bob@example.com")
    assert bob["totals"]["refactor"] == 2 and bob["delta"]["help_others"] == 2 and bob["totals"]["new_work"] == 5

    # Incremental: one new commit, only its figures are added; the next full read finds the same.
    text = (repo.path / "a.txt").read_text().replace("bob new 3\n", "bob newer 3\n")
    repo.commit(BOB, "2026-02-21T10:00:00Z", {"a.txt": text})
    api.post(f"/v1/repositories/{repo_id}/analyses")
    assert drain() == ["succeeded"]
    incremental = api.get("/v1/metrics/developers").json()["data"]
    assert {r["email"]: r["totals"]["rework"] for r in incremental}["bob@example.com"] == 1
    api.post(f"/v1/repositories/{repo_id}/analyses", json={"full": True})
    assert drain() == ["succeeded"]
    assert api.get("/v1/metrics/developers").json()["data"] == incremental

    from gitproductivity.cli import app

    out = CliRunner().invoke(app, ["metrics", "--org", tenant.organization_id, "--json"])
    assert out.exit_code == 0, out.output
    assert {r["email"]: r["help_others"] for r in json.loads(out.output)}["bob@example.com"] == 2
    table = CliRunner(env={"COLUMNS": "250"}).invoke(app, ["metrics", "--org", tenant.organization_id])
    assert table.exit_code == 0 and "help others" in table.output and "co authored" in table.output, table.output


def test_co_authors_through_mailmap_and_bots_apart(api: TestClient, tmp_path: Path, database: Database) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit(ALICE, "2026-03-01T10:00:00Z", {".mailmap": "Carol <carol@example.com> <c.old@example.org>\n"})
    (repo.path / "x.txt").write_text("x\n")
    repo.git("add", "x.txt")
    message = (
        "pair\n\nCo-authored-by: C Old <c.old@example.org>\n"
        "Co-authored-by: dependabot[bot] <bot@example.com>\nCo-authored-by: no address\n"
    )
    repo.git("commit", "-q", "-m", message, env=repo._env(ALICE, "2026-03-02T10:00:00Z"))
    api.post("/v1/repositories", json={"url": str(repo.path)})
    assert drain() == ["succeeded"]
    people = api.get("/v1/metrics/developers").json()["data"]
    assert {r["email"]: r["totals"]["co_authored_commits"] for r in people} == {
        "alice@example.com": 0,
        "carol@example.com": 1,
    }
    with_bots = api.get("/v1/metrics/developers", params={"include_bots": "true"}).json()["data"]
    bot = next(r for r in with_bots if r["email"] == "bot@example.com")
    assert bot["is_bot"] and bot["totals"]["co_authored_commits"] == 1


def test_author_date_after_committer_date_still_blames_exactly(tmp_path: Path) -> None:
    """A commit whose author date is later than its committer date: blame stopped at the window would report it
    at the boundary; its author time proves the line young, and the ranges are blamed in full."""
    repo = Repo(tmp_path / "r")
    repo.commit(ALICE, "2026-01-01T10:00:00Z", {"a.txt": lines(3, "a")})
    (repo.path / "a.txt").write_text(lines(3, "b"))
    repo.git("add", "a.txt")
    env = {**repo._env(CAROL, "2026-01-02T10:00:00Z"), "GIT_AUTHOR_DATE": "2026-02-15T10:00:00Z"}
    repo.git("commit", "-q", "-m", "dated later", env=env)
    edit = repo.commit(BOB, "2026-02-20T10:00:00Z", {"a.txt": lines(3, "b").replace("b 1", "bob")})
    assert engine(repo)[edit] == (0, 0, 0, 1) == truth(repo)[edit]


def test_damaged_history_is_not_fatal(tmp_path: Path) -> None:
    """A commit whose tree is missing: git cannot diff it nor its child (no figures for them), and a blame that
    walks through it fails (those deleted lines count as refactor); every other commit keeps its figures."""
    from tests.analysis.hostile import damaged_history

    repo = Repo(tmp_path / "r")
    first, lost, child = damaged_history(repo, ALICE)
    edit = repo.commit(BOB, "2026-01-03T10:00:00Z", {"a.txt": lines(4, "a").replace("a 1", "bob")})
    got = engine(repo)
    assert lost not in got and child not in got
    assert got[first] == (4, 0, 0, 0)
    assert got[edit] == (0, 1, 0, 0), got[edit]  # the blame through the missing tree fails: refactor


def test_replay_through_long_branches_criss_cross_octopus_type_changes_and_binary_to_text(tmp_path: Path) -> None:
    """The cases where the replay hands lines to blame (files a merge changed against every parent, a binary file
    turned text) or takes a parent's lines whole (a merge taking a side's blob, a rename on a side branch)."""
    repo = Repo(tmp_path / "r")
    base = lines(30, "a").splitlines(keepends=True)
    first: dict[str, str | bytes | None] = {
        "f.txt": "".join(base),
        "g.txt": lines(5, "g"),
        "b.dat": b"\0x\n",
        "s.txt": lines(3, "s"),
    }
    repo.commit(ALICE, "2026-01-01T10:00:00Z", first)
    repo.git("checkout", "-q", "-b", "side")
    side = list(base)
    for day in range(2, 6):  # a long-lived branch: Bob edits the top of f.txt four times
        side[day] = f"bob {day}\n"
        repo.commit(BOB, f"2026-01-{day:02d}T10:00:00Z", {"f.txt": "".join(side)})
    repo.git("mv", "g.txt", "h.txt")
    repo.commit(BOB, "2026-01-06T10:00:00Z", {})
    repo.git("checkout", "-q", "main")
    main = list(base)
    for day in range(2, 5):  # meanwhile Carol edits the bottom of f.txt and g.txt
        main[20 + day] = f"carol {day}\n"
        repo.commit(CAROL, f"2026-01-{day:02d}T12:00:00Z", {"f.txt": "".join(main), "g.txt": lines(5, f"c{day}")})
    repo.merge(ALICE, "2026-01-07T10:00:00Z", "side")  # f.txt changed against both parents: blame's split
    repo.git("checkout", "-q", "side")
    repo.merge(BOB, "2026-01-08T10:00:00Z", "main")  # criss-cross: side takes main's merge result
    repo.commit(BOB, "2026-01-09T10:00:00Z", {"b.dat": lines(6, "text now")})  # binary -> text
    repo.git("checkout", "-q", "main")
    repo.git("checkout", "-q", "-b", "third")
    repo.commit(DAVE, "2026-01-09T11:00:00Z", {"t.txt": lines(3, "t")})
    repo.git("checkout", "-q", "main")
    merged = (repo.path / "f.txt").read_text().splitlines(keepends=True)
    merged[15] = "alice 15\n"
    (repo.path / "s.txt").unlink()
    (repo.path / "s.txt").symlink_to("f.txt")  # a type change: a file turned symlink
    repo.git("add", "s.txt")
    repo.commit(ALICE, "2026-01-09T12:00:00Z", {"f.txt": "".join(merged)})
    env = repo._env(ALICE, "2026-01-10T10:00:00Z")
    repo.git("merge", "-q", "--no-ff", "--no-edit", "side", "third", env=env)  # an octopus
    after = (repo.path / "f.txt").read_text().splitlines(keepends=True)
    del after[1:25]  # lines of Alice, Bob and Carol from both sides, through every merge
    text = (repo.path / "b.dat").read_text().replace("text now 2", "dave")
    (repo.path / "s.txt").unlink()  # and back to a file
    changes: dict[str, str | bytes | None] = {
        "f.txt": "".join(after),
        "b.dat": text,
        "h.txt": None,
        "s.txt": lines(2, "dave"),
    }
    last = repo.commit(DAVE, "2026-01-12T10:00:00Z", changes)
    expected = truth(repo)
    assert engine(repo) == expected
    assert expected[last][3] == 24 + 5 + 1 + 1  # help to others: f.txt's 24 lines, h.txt's 5, b.dat's, the link's
    # Blame was asked about two files only: b.dat, turned text, and the symlink a type change made (the merges'
    # files were split from their diffs).
    shas = repo.git("rev-list", "HEAD").split()
    assert categories.compute(repo.path, shas, PATHS, head=last, engine="replay").blamed == 2


def test_files_longer_than_the_replay_keeps_are_blamed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file over `origins.MAX_LINES` keeps no tuple (a hostile history cannot make every commit copy a huge
    one): its deleted lines are blamed, with the same answers."""
    from gitproductivity.analysis import origins

    repo = Repo(tmp_path / "r")
    build_spread(repo)
    expected = truth(repo)
    monkeypatch.setattr(origins, "MAX_LINES", 3)
    assert one_engine(repo, commit_graph=False, mode="replay") == expected
    shas = repo.git("rev-list", "HEAD").split()
    assert categories.compute(repo.path, shas, PATHS, head=repo.head(), engine="replay").blamed > 0


def test_a_merge_naming_too_many_paths_leaves_them_to_blame(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A merge's pairwise diffs name its paths on one command line; past `MAX_PATHSPEC_BYTES` the files a merge
    changed against every parent are left to blame instead, with the same answers."""
    from gitproductivity.analysis import replay

    repo = Repo(tmp_path / "r")
    build_spread(repo)
    expected = truth(repo)
    shas = repo.git("rev-list", "HEAD").split()
    split = categories.compute(repo.path, shas, PATHS, head=repo.head(), engine="replay").blamed
    monkeypatch.setattr(replay, "MAX_PATHSPEC_BYTES", 0)
    assert one_engine(repo, commit_graph=False, mode="replay") == expected
    assert categories.compute(repo.path, shas, PATHS, head=repo.head(), engine="replay").blamed > split


def test_many_ranges_take_several_blames(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The `-L` ranges of one blame come from a repository's diffs: past `MAX_RANGES_PER_BLAME` they are cut into
    several blames (a hostile commit's hunks would overflow one command line), with the same answers."""
    from gitproductivity.analysis import origins

    repo = Repo(tmp_path / "r")
    build_spread(repo)
    text = "".join(f"{'bob' if i % 2 else 'alice'} {i}\n" for i in range(40))
    repo.commit(ALICE, "2026-03-01T10:00:00Z", {"many.txt": text})
    edited = "".join(line if i % 2 else "carol\n" for i, line in enumerate(text.splitlines(keepends=True)))
    repo.commit(CAROL, "2026-03-02T10:00:00Z", {"many.txt": edited})  # 20 separate one-line hunks
    expected = truth(repo)
    monkeypatch.setattr(origins, "MAX_RANGES_PER_BLAME", 3)
    monkeypatch.setattr(origins, "MAX_LINES", 3)  # the replay leaves files to blame too
    assert engine(repo) == expected
    assert expected[repo.head()][3] == 20  # Carol replaced twenty of Alice's lines, one hunk each
