"""Co-authors are credited with change categories OFF (the default; the suite turns them on in conftest.py): from
real trailers read by the commit reader's own pass, through the mailmap, bots apart, each person once, never the
author; shown by the API, the CLI and the dashboard; the reader's bound on a crafted message."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from gitproductivity.analysis import coauthors, reader
from gitproductivity.analysis.commits import MAX_NAME
from gitproductivity.analysis.exclusions import PathFilter
from gitproductivity.core import settings
from gitproductivity.core.db import Database
from tests.analysis.gitrepo import Repo, drain
from tests.analysis.test_ownership import ALICE, BOB
from tests.conftest import Tenant
from tests.teams.test_api import _signed_in


@pytest.fixture
def categories_off(database: Database, configured: Any) -> None:
    """The product's default: no change categories (tests/conftest.py turns them on for the rest of the suite).
    After `database`, whose own `settings.configure` replaces earlier overrides."""
    configured(**{**settings._overrides, "change_categories": False})
    assert not settings.get_settings().change_categories


MAILMAP = "Carol <carol@example.com> <c.old@example.org>\nBob <bob@example.com> <bob@old.example.org>\n"


def commit_with(repo: Repo, author: str, when: str, message: str, name: str) -> str:
    (repo.path / name).write_text(f"{name}\n")
    repo.git("add", name)
    repo.git("commit", "-q", "-m", message, env=repo._env(author, when))
    return repo.head()


def build(repo: Repo) -> None:
    """Alice pairs with Carol (written under an old address the mailmap maps), a bot, Bob twice (in two cases)
    and herself; Bob pairs with Carol (a trailer folded over two lines) and with himself under an old address the
    mailmap maps to him; a merge names Dave (merges credit no
    one); a trailer without an address credits no one."""
    repo.commit(BOB, "2026-03-01T10:00:00Z", {".mailmap": MAILMAP})
    commit_with(
        repo,
        ALICE,
        "2026-03-02T10:00:00Z",
        "pair\n\nCo-authored-by: C Old <c.old@example.org>\n"
        "Co-authored-by: dependabot[bot] <bot@example.com>\n"
        "Co-authored-by: Bob <bob@example.com>\nco-authored-by: Bob B <BOB@example.com>\n"
        "Co-authored-by: Alice <alice@example.com>\nCo-authored-by: no address\n",
        "a.txt",
    )
    commit_with(
        repo,
        BOB,
        "2026-03-04T23:30:00-05:00",  # 5 March in UTC: the credit goes to the author's UTC day
        "more\n\nCo-authored-by: Carol\n  <carol@example.com>\nCo-authored-by: Robert <bob@old.example.org>\n",
        "b.txt",
    )
    repo.git("checkout", "-q", "-b", "side")
    commit_with(repo, BOB, "2026-03-06T10:00:00Z", "side", "c.txt")
    repo.git("checkout", "-q", "main")
    commit_with(repo, ALICE, "2026-03-06T11:00:00Z", "main", "d.txt")
    env = repo._env(ALICE, "2026-03-07T10:00:00Z")
    repo.git("merge", "-q", "--no-ff", "-m", "merge\n\nCo-authored-by: Dave <dave@example.com>\n", "side", env=env)


EXPECTED = {  # email -> (commits, co-authored commits, active days, lines added)
    "alice@example.com": (2, 0, 3, 2),  # 2 Mar, 6 Mar and the merge's 7 Mar
    "bob@example.com": (3, 1, 4, 4),  # 1 Mar (the mailmap: 2 lines), 5 Mar, 6 Mar, and 2 Mar as co-author
    "carol@example.com": (0, 2, 2, 0),  # 2 Mar (through the mailmap) and 5 Mar
}


def totals(rows: list[dict[str, Any]]) -> dict[str, tuple[int, int, int, int]]:
    keys = ("commits", "co_authored_commits", "active_days", "lines_added")
    return {r["email"]: tuple(r["totals"][k] for k in keys) for r in rows}


def test_co_authors_are_credited_with_categories_off(
    api: TestClient, client: TestClient, tmp_path: Path, categories_off: None, tenant: Tenant
) -> None:
    repo = Repo(tmp_path / "r")
    build(repo)
    repo_id = api.post("/v1/repositories", json={"url": str(repo.path)}).json()["id"]
    assert drain() == ["succeeded"]
    # The API: co-authored commits and active days; lines stay with the author; nobody for Dave (a merge), the
    # bot apart, the address-less trailer nobody.
    rows = api.get("/v1/metrics/developers").json()["data"]
    assert totals(rows) == EXPECTED
    with_bots = api.get("/v1/metrics/developers", params={"include_bots": "true"}).json()["data"]
    bot = next(r for r in with_bots if r["email"] == "bot@example.com")
    assert bot["is_bot"] and bot["totals"]["co_authored_commits"] == 1 and bot["totals"]["commits"] == 0
    assert "dave@example.com" not in {r["email"] for r in with_bots}
    developers = api.get("/v1/developers", params={"limit": 100}).json()["data"]
    assert "c.old@example.org" not in {d["email"] for d in developers}  # the mailmap made it Carol
    carol = next(r for r in rows if r["email"] == "carol@example.com")
    assert carol["name"] == "Carol"
    # The categories themselves stay off.
    assert all(r["totals"]["new_work"] == r["totals"]["help_others"] == 0 for r in rows)

    # An incremental read credits the new commit's co-authors on top; a full read finds the same.
    commit_with(repo, BOB, "2026-03-08T10:00:00Z", "again\n\nCo-authored-by: Carol <c.old@example.org>\n", "e.txt")
    api.post(f"/v1/repositories/{repo_id}/analyses")
    assert drain() == ["succeeded"]
    incremental = api.get("/v1/metrics/developers").json()["data"]
    assert totals(incremental)["carol@example.com"] == (0, 3, 3, 0)
    api.post(f"/v1/repositories/{repo_id}/analyses", json={"full": True})
    assert drain() == ["succeeded"]
    assert totals(api.get("/v1/metrics/developers").json()["data"]) == totals(incremental)

    # The CLI's table and JSON.
    from gitproductivity.cli import app

    out = CliRunner().invoke(app, ["metrics", "--org", tenant.organization_id, "--json"])
    assert out.exit_code == 0, out.output
    assert {r["email"]: r["co_authored_commits"] for r in json.loads(out.output)}["carol@example.com"] == 3
    table = CliRunner(env={"COLUMNS": "250"}).invoke(app, ["metrics", "--org", tenant.organization_id])
    assert table.exit_code == 0 and "co authored commits" in table.output, table.output
    header = next(line for line in table.output.splitlines() if "co authored commits" in line)
    carol_line = next(line for line in table.output.splitlines() if "carol@example.com" in line)
    column = [c.strip() for c in re.split("[│┃]", header)].index("co authored commits")
    assert [c.strip() for c in re.split("[│┃]", carol_line)][column] == "3", table.output

    # The dashboard's contributors list: Carol, with no commit of her own, has her three active days.
    page = _signed_in(client, tenant)
    html = page.get("/dashboard/contributors", params={"range": "all"}).text
    row = re.search(r">Carol</a></td>(.*?)</tr>", html, re.S)
    assert row is not None, html
    cells = re.findall(r'<td class="num[^"]*">([^<]*)</td>', row.group(1))
    assert cells[0] == "0" and cells[-1] == "3", cells


def test_rules_changed_when_upgrading_counts_co_authors_in_old_analyses(
    api: TestClient, tmp_path: Path, database: Database, categories_off: None
) -> None:
    """The counting version is part of the fingerprint: a repository analysed before co-authors were always
    counted is read again in full (reason `rules_changed`), and its co-authors are credited."""
    from gitproductivity.repositories.models import Repository

    repo = Repo(tmp_path / "r")
    build(repo)
    repo_id = api.post("/v1/repositories", json={"url": str(repo.path)}).json()["id"]
    assert drain() == ["succeeded"]
    with database.session() as session:
        row = session.get(Repository, repo_id)
        assert row is not None
        row.rules_fingerprint = "an older counting version"
    api.post(f"/v1/repositories/{repo_id}/analyses")
    assert drain() == ["succeeded"]
    runs = api.get(f"/v1/repositories/{repo_id}/analyses").json()["data"]
    assert runs[0]["mode"] == "full" and runs[0]["reason"] == "rules_changed", runs[0]
    assert totals(api.get("/v1/metrics/developers").json()["data"]) == EXPECTED


def test_the_reader_reads_trailers_in_its_own_pass(tmp_path: Path) -> None:
    """The reader's tally lists each non-merge commit's contacts (in order, once each, never the author's own
    address, without the address-less ones), before the mailmap; a merge's are not read."""
    repo = Repo(tmp_path / "r")
    build(repo)
    listed = reader.list_commits(repo.path, repo.head())
    tally = reader.read(repo.path, listed, PathFilter([], []), shards=2, min_shard=2)
    found = sorted((who, contacts) for who, _when, contacts in tally.co_authored)
    assert found == [
        (
            "alice@example.com",
            (("C Old", "c.old@example.org"), ("dependabot[bot]", "bot@example.com"), ("Bob", "bob@example.com")),
        ),
        ("bob@example.com", (("Carol", "carol@example.com"), ("Robert", "bob@old.example.org"))),
    ]


def test_a_crafted_message_costs_what_a_few_trailers_cost() -> None:
    """At most MAX_CO_AUTHORS contacts, whatever the message holds; linear time on a long value."""
    many = b"\x01".join(b"P%d <p%d@example.com>" % (i, i) for i in range(100_000))
    started = time.perf_counter()
    got = coauthors.parse(many, "me@example.com")
    assert len(got) == coauthors.MAX_CO_AUTHORS and got[0] == ("P0", "p0@example.com")
    long = coauthors.parse(b"x" * 1_000_000 + b" <" + b"<" * 100_000 + b"a@b>", "me@example.com")
    assert long == (("x" * MAX_NAME, "a@b"),)
    assert coauthors.parse(b"x <" + b"<@" * 100_000 + b">", "me@example.com") == ()
    assert coauthors.parse(b"Odd <Name> <odd@example.com>", "me@example.com") == (("Odd Name", "odd@example.com"),)
    assert time.perf_counter() - started < 2
