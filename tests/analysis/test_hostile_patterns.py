"""Issue 12, finding 1: one `.gitattributes` line must not freeze an analysis (nor, before the analysis ran in a
child process, the whole server). The old translation of globs to regular expressions backtracked
exponentially in the number of stars: this repository took well over a minute to analyse."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from gitproductivity.core import settings
from tests.analysis.gitrepo import Repo, drain, lines

STARS = "*a" * 10 + "*b"  # ten stars and more: each name below costs the old code about half a minute
NEAR_MISS = "a" * 38  # no `b`: the regex tried every way to place ten `a`s before giving up
HIT = "a" * 37 + "b"


def test_a_gitattributes_line_of_many_stars_is_analysed_promptly(api: TestClient, tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit(
        "Jane <jane@example.com>",
        "2026-03-01T10:00:00Z",
        {
            ".gitattributes": f"{STARS} linguist-generated\n{'[!x]' * 20}{'*' * 40}z linguist-vendored\n",
            f"src/{NEAR_MISS}": lines(3),
            f"deep/er/{NEAR_MISS}/{NEAR_MISS}": lines(4),
            f"src/{HIT}": lines(50),  # matches the pattern: generated, so it counts no lines
        },
    )
    api.post("/v1/repositories", json={"url": str(repo.path)})
    started = time.monotonic()
    assert drain() == ["succeeded"]
    elapsed = time.monotonic() - started
    assert elapsed < 5, f"the analysis took {elapsed:.1f} s"  # generous: it takes well under a second
    [jane] = api.get("/v1/metrics/developers").json()["data"]
    # .gitattributes (2 lines) + the two near misses; the matching file is excluded.
    assert (jane["totals"]["lines_added"], jane["totals"]["files_changed"]) == (2 + 3 + 4, 3)


def test_configured_globs_are_matched_the_same_bounded_way(api: TestClient, tmp_path: Path, database_url: str) -> None:
    settings.configure(database_url=database_url, data_dir=tmp_path / "data", exclude_globs=(STARS, "gen/**"))
    repo = Repo(tmp_path / "r")
    repo.commit(
        "Jane <jane@example.com>",
        "2026-03-01T10:00:00Z",
        {f"src/{NEAR_MISS}": lines(3), f"src/{HIT}": lines(50), "gen/x/y.py": lines(7), "gen.py": lines(1)},
    )
    api.post("/v1/repositories", json={"url": str(repo.path)})
    started = time.monotonic()
    assert drain() == ["succeeded"]
    assert time.monotonic() - started < 5
    [jane] = api.get("/v1/metrics/developers").json()["data"]
    assert (jane["totals"]["lines_added"], jane["totals"]["files_changed"]) == (3 + 1, 2)


def test_a_configured_bot_pattern_cannot_be_made_exponential_by_an_author_name(
    api: TestClient, tmp_path: Path, database_url: str
) -> None:
    """`(\\w+\\s?)+bot` is an innocent-looking pattern; with `re`, an author named 26 letters and a `!` took
    about a minute (doubling with each letter). Patterns now run on `core.saferegex` (linear time)."""
    settings.configure(database_url=database_url, data_dir=tmp_path / "data", bot_patterns=(r"(\w+\s?)+bot",))
    repo = Repo(tmp_path / "r")
    repo.commit(f"{'a' * 26}! <evil@example.com>", "2026-03-01T10:00:00Z", {"a.py": lines(2)})
    repo.commit("Deploy Bot <deploy@example.com>", "2026-03-01T11:00:00Z", {"b.py": lines(1)})
    api.post("/v1/repositories", json={"url": str(repo.path)})
    started = time.monotonic()
    assert drain() == ["succeeded"]
    assert time.monotonic() - started < 5
    people = api.get("/v1/metrics/developers").json()["data"]
    assert [d["email"] for d in people] == ["evil@example.com"]  # the deploy bot is kept apart
