"""Languages and hours of the week, from real repositories with known file names and time zones, on both
databases: exact counts through the API and the CLI, incremental == full, developer merges, the switch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from gitproductivity.analysis import activity, languages
from gitproductivity.core import settings
from gitproductivity.core.db import Database
from gitproductivity.metrics.activity_models import HourRollup, LanguageRollup
from tests.analysis.gitrepo import Repo, drain, lines
from tests.conftest import Tenant

ALICE = "Alice <alice@example.com>"
BOB = "Bob <bob@example.com>"
CAROL = "Carol <carol@example.com>"
BOT = "dependabot[bot] <bot@example.com>"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00binary\x00"


def how(day: int, hour: int) -> int:
    return day * 24 + hour  # Monday = 0


def build(tmp_path: Path) -> Repo:
    """Five counted commits in four time zones, a binary and an excluded file, a merge (counted in neither)."""
    repo = Repo(tmp_path / "r")
    # Monday 2026-03-02 09:15 in India (03:45 UTC, UTC day 2026-03-02).
    repo.commit(
        ALICE,
        "2026-03-02T09:15:00+05:30",
        {
            "app.py": lines(10),
            "README.md": lines(3),
            "Makefile": lines(2),
            "logo.png": PNG,
            "package-lock.json": lines(50),  # excluded by default: no lines
        },
    )
    # Sunday 2026-03-01 23:30 in California (07:30 UTC Monday: UTC day 2026-03-02).
    repo.commit(
        BOB,
        "2026-03-01T23:30:00-08:00",
        {"app.py": lines(8) + "new 1\nnew 2\n", "src/main.go": lines(5), "Dockerfile": lines(4)},
    )
    repo.git("checkout", "-q", "-b", "feature")
    # Tuesday 2026-03-03 12:00 in Newfoundland (15:30 UTC).
    repo.commit(CAROL, "2026-03-03T12:00:00-03:30", {"feature.rs": lines(4)})
    repo.git("checkout", "-q", "main")
    # Friday 2026-03-06 18:00 UTC.
    repo.commit(ALICE, "2026-03-06T18:00:00+00:00", {"lib/util.ts": lines(7), "notes.unknownext": lines(2)})
    repo.merge(BOB, "2026-03-07T10:00:00+09:00", "feature")  # a merge: neither hours nor languages
    # A bot on Saturday 2026-03-07 01:00 in Tokyo (Friday 16:00 UTC).
    repo.commit(BOT, "2026-03-07T01:00:00+09:00", {"requirements.txt": lines(1)})
    return repo


EXPECTED_LANGUAGES = {
    "alice@example.com": {
        "Python": (10, 0, 1),
        "TypeScript": (7, 0, 1),
        "Markdown": (3, 0, 1),
        "Other": (2, 0, 1),
        "Makefile": (2, 0, 1),
    },
    "bob@example.com": {"Go": (5, 0, 1), "Dockerfile": (4, 0, 1), "Python": (2, 2, 1)},
    "carol@example.com": {"Rust": (4, 0, 1)},
}
EXPECTED_HOURS = {
    "alice@example.com": {how(0, 9): 1, how(4, 18): 1},
    "bob@example.com": {how(6, 23): 1},
    "carol@example.com": {how(1, 12): 1},
}


def developer_ids(api: TestClient) -> dict[str, str]:
    data = api.get("/v1/developers", params={"limit": 100}).json()["data"]
    return {d["email"]: d["id"] for d in data}


def hours_of(api: TestClient, **params: str) -> dict[int, int]:
    resp = api.get("/v1/metrics/hours", params=params)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert len(body["hours"]) == 168 and body["commits"] == sum(body["hours"])
    return {i: n for i, n in enumerate(body["hours"]) if n}


def languages_of(api: TestClient, **params: str) -> dict[str, tuple[int, int, int]]:
    resp = api.get("/v1/metrics/languages", params=params)
    assert resp.status_code == 200, resp.text
    return {t["language"]: (t["lines_added"], t["lines_deleted"], t["files_changed"]) for t in resp.json()["data"]}


def stored(database: Database) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with database.session() as session:
        langs = [
            (r.developer_id, r.day, r.language, r.lines_added, r.lines_deleted, r.files_changed)
            for r in session.scalars(select(LanguageRollup))
        ]
        hrs = [(r.developer_id, r.day, r.hour, r.commits) for r in session.scalars(select(HourRollup))]
    return sorted(langs), sorted(hrs)


def test_exact_languages_and_hours_through_the_api(api: TestClient, tmp_path: Path, database: Database) -> None:
    repo = build(tmp_path)
    repo_id = api.post("/v1/repositories", json={"url": str(repo.path)}).json()["id"]
    assert drain() == ["succeeded"]
    ids = developer_ids(api)

    for email, expected in EXPECTED_LANGUAGES.items():
        assert languages_of(api, developer_id=ids[email]) == expected, email
        assert hours_of(api, developer_id=ids[email]) == EXPECTED_HOURS[email], email
    # A developer asked for by id is shown even when a bot; team and organisation sums leave bots out.
    assert hours_of(api, developer_id=ids["bot@example.com"]) == {how(5, 1): 1}
    assert languages_of(api, developer_id=ids["bot@example.com"]) == {"Text": (1, 0, 1)}
    everyone = hours_of(api)
    assert everyone == {how(0, 9): 1, how(4, 18): 1, how(6, 23): 1, how(1, 12): 1}
    assert hours_of(api, include_bots="true") == {**everyone, how(5, 1): 1}
    assert languages_of(api)["Python"] == (12, 2, 2)
    assert "Text" not in languages_of(api) and languages_of(api, include_bots="true")["Text"] == (1, 0, 1)

    # Days are UTC author days (as the rollups): Alice's India Monday and Bob's California Sunday both fall on
    # 2026-03-02 UTC, each counted at its own local hour.
    assert hours_of(api, **{"from": "2026-03-02", "to": "2026-03-02"}) == {how(0, 9): 1, how(6, 23): 1}
    assert hours_of(api, repository_id=repo_id, **{"from": "2026-03-03"}) == {how(1, 12): 1, how(4, 18): 1}

    # The languages sum to the rollups' lines and files for every developer.
    table = api.get("/v1/metrics/developers", params={"include_bots": "true"}).json()["data"]
    for row in table:
        found = row["languages"]
        assert sum(t["lines_added"] for t in found) == row["totals"]["lines_added"]
        assert sum(t["lines_deleted"] for t in found) == row["totals"]["lines_deleted"]
        assert sum(t["files_changed"] for t in found) == row["totals"]["files_changed"]
    alice = next(r for r in table if r["email"] == "alice@example.com")
    # Most lines changed first; ties by files, then by name.
    assert [t["language"] for t in alice["languages"]] == ["Python", "TypeScript", "Markdown", "Makefile", "Other"]

    series = api.get(f"/v1/developers/{ids['bob@example.com']}/metrics").json()
    assert [(t["language"], t["lines_added"], t["lines_deleted"]) for t in series["languages"]] == [
        ("Go", 5, 0),
        ("Dockerfile", 4, 0),  # as many lines changed as Python, in as many files: by name
        ("Python", 2, 2),
    ]

    # A team: only its members.
    team_id = api.post("/v1/teams", json={"name": "Core"}).json()["id"]
    for email in ("alice@example.com", "carol@example.com"):
        assert api.put(f"/v1/teams/{team_id}/developers/{ids[email]}").status_code == 204
    assert hours_of(api, team_id=team_id) == {how(0, 9): 1, how(4, 18): 1, how(1, 12): 1}
    assert set(languages_of(api, team_id=team_id)) == {"Python", "TypeScript", "Markdown", "Makefile", "Other", "Rust"}
    team_rows = api.get("/v1/metrics/developers", params={"team_id": team_id}).json()["data"]
    assert {r["email"]: r["languages"][0]["language"] for r in team_rows} == {
        "alice@example.com": "Python",
        "carol@example.com": "Rust",
    }


def test_errors_in_words(api: TestClient, tmp_path: Path) -> None:
    resp = api.get("/v1/metrics/hours", params={"from": "2026-03-05", "to": "2026-03-01"})
    assert resp.status_code == 422 and "from" in resp.text
    assert api.get("/v1/metrics/languages", params={"team_id": "team_nonexistent0000000000"}).status_code == 404
    assert api.get("/v1/metrics/hours", params={"developer_id": "dev_0000000000000000000000"}).status_code == 404
    empty = api.get("/v1/metrics/hours").json()
    assert empty["hours"] == [0] * 168 and empty["commits"] == 0


def test_incremental_equals_full(api: TestClient, tmp_path: Path, database: Database) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit(ALICE, "2026-03-02T09:15:00+05:30", {"a.py": lines(3)})
    repo_id = api.post("/v1/repositories", json={"url": str(repo.path)}).json()["id"]
    assert drain() == ["succeeded"]
    # New commits on the same days, languages and hours as stored ones, and on new ones.
    repo.commit(ALICE, "2026-03-02T09:40:00+05:30", {"a.py": lines(5), "b.go": lines(2)})
    repo.commit(BOB, "2026-03-02T01:00:00-08:00", {"c.rs": lines(1)})
    assert api.post(f"/v1/repositories/{repo_id}/analyses").status_code == 202
    assert drain() == ["succeeded"]
    assert api.get(f"/v1/repositories/{repo_id}/analyses").json()["data"][0]["mode"] == "incremental"
    incremental = stored(database)
    assert api.post(f"/v1/repositories/{repo_id}/analyses", json={"full": True}).status_code == 202
    assert drain() == ["succeeded"]
    assert api.get(f"/v1/repositories/{repo_id}/analyses").json()["data"][0]["mode"] == "full"
    assert stored(database) == incremental
    ids = developer_ids(api)
    assert languages_of(api, developer_id=ids["alice@example.com"]) == {"Python": (5, 0, 2), "Go": (2, 0, 1)}
    assert hours_of(api, developer_id=ids["alice@example.com"]) == {how(0, 9): 2}
    assert hours_of(api, developer_id=ids["bob@example.com"]) == {how(0, 1): 1}  # Monday 01:00 in California


def test_merging_developers_moves_languages_and_hours(api: TestClient, tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit(ALICE, "2026-03-02T09:15:00+05:30", {"a.py": lines(3)})
    repo.commit("Alice W <alice@work.example>", "2026-03-02T09:30:00+05:30", {"b.py": lines(2), "c.sh": lines(1)})
    api.post("/v1/repositories", json={"url": str(repo.path)})
    assert drain() == ["succeeded"]
    ids = developer_ids(api)
    kept, other = ids["alice@example.com"], ids["alice@work.example"]
    resp = api.post(f"/v1/developers/{kept}/merge", json={"developer_id": other})
    assert resp.status_code == 200, resp.text
    assert languages_of(api, developer_id=ids["alice@example.com"]) == {"Python": (5, 0, 2), "Shell": (1, 0, 1)}
    assert hours_of(api, developer_id=ids["alice@example.com"]) == {how(0, 9): 2}


def test_switched_off_counts_nothing_and_back_on_reads_again(
    api: TestClient, tmp_path: Path, database: Database, configured: Any
) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit(ALICE, "2026-03-02T09:15:00+05:30", {"a.py": lines(3)})
    configured(**{**settings._overrides, "languages_hours": False})
    repo_id = api.post("/v1/repositories", json={"url": str(repo.path)}).json()["id"]
    assert drain() == ["succeeded"]
    assert stored(database) == ([], [])
    assert api.get("/v1/metrics/developers").json()["data"][0]["languages"] == []
    configured(**{**settings._overrides, "languages_hours": True})  # a rule change: the history is read again
    api.post(f"/v1/repositories/{repo_id}/analyses")
    assert drain() == ["succeeded"]
    assert api.get(f"/v1/repositories/{repo_id}/analyses").json()["data"][0]["reason"] == "rules_changed"
    assert hours_of(api) == {how(0, 9): 1}


def test_cli(api: TestClient, tmp_path: Path, tenant: Tenant) -> None:
    from gitproductivity.cli import app

    repo = build(tmp_path)
    api.post("/v1/repositories", json={"url": str(repo.path)})
    assert drain() == ["succeeded"]
    org = ["--org", tenant.organization_id]
    result = CliRunner().invoke(app, ["metrics", "--languages", "--json", *org])
    assert result.exit_code == 0, result.output
    rows = {r["email"]: r for r in json.loads(result.output)}
    assert [t["language"] for t in rows["bob@example.com"]["languages"]] == ["Go", "Dockerfile", "Python"]
    table = CliRunner().invoke(app, ["metrics", "--languages", *org])
    assert table.exit_code == 0 and "Rust" in table.output, table.output
    hours = CliRunner().invoke(app, ["hours", "--json", *org])
    assert hours.exit_code == 0, hours.output
    counts = json.loads(hours.output)
    assert counts["commits"] == 4 and counts["hours"][how(6, 23)] == 1
    grid = CliRunner().invoke(app, ["hours", "--from", "2026-03-02", "--to", "2026-03-02", *org])
    assert grid.exit_code == 0 and "2 in all" in grid.output, grid.output
    cells = {line.split()[1]: line.split()[3::2] for line in grid.output.splitlines() if ":00 " in line}
    assert cells["09:00"] == ["1", "·", "·", "·", "·", "·", "·"]  # Monday 09:00: Alice in India
    assert cells["23:00"] == ["·", "·", "·", "·", "·", "·", "1"]  # Sunday 23:00: Bob in California


@pytest.mark.parametrize(
    ("raw", "minutes"),
    [
        (b"1700000000 +0530", 330),
        (b"1700000000 -0800", -480),
        (b"1700000000 -0330", -210),
        (b"1700000000 +1400", 840),
        (b"1700000000 +1401", 0),  # wider than any zone in use: UTC
        (b"1700000000 +0575", 0),  # not a time: UTC
        (b"1700000000", 0),
        (b"", 0),
        (b"x +0100", 0),
    ],
)
def test_offset(raw: bytes, minutes: int) -> None:
    assert activity.offset(raw) == minutes


def test_hour_of_week() -> None:
    assert activity.hour_of_week(0, 0) == how(3, 0)  # 1970-01-01 00:00 UTC was a Thursday
    monday = 1_772_409_600  # 2026-03-02 00:00 UTC, a Monday
    assert activity.hour_of_week(monday, 0) == 0
    assert activity.hour_of_week(monday, -60) == how(6, 23)  # still Sunday west of Greenwich
    assert activity.hour_of_week(monday + 3 * 3600 + 45 * 60, 330) == how(0, 9)


@pytest.mark.parametrize(
    ("path", "language"),
    [
        ("src/app.py", "Python"),
        ("Makefile", "Makefile"),
        ("build/GNUmakefile", "Makefile"),
        ("docker/Dockerfile", "Dockerfile"),
        ("Dockerfile.dev", "Dockerfile"),
        ("CMakeLists.txt", "CMake"),
        ("notes.txt", "Text"),
        ("include/x.H", "C"),
        ("lib/x.hpp", "C++"),
        ("web/a.tsx", "TypeScript"),
        (".gitignore", "Other"),
        ("LICENSE", "Other"),
        ("a.unknownext", "Other"),
        (".eslintrc.json", "JSON"),
    ],
)
def test_language_of(path: str, language: str) -> None:
    assert languages.of(path) == language


def test_language_names_fit_the_column() -> None:
    assert all(len(name) <= languages.MAX_LANGUAGE for name in languages.known())
    assert len(languages.known()) >= 60
