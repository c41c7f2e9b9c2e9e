"""`GITPRODUCTIVITY_ANALYSIS_FIRST_PARENT` counts exactly the first-parent chain, and the totals never depend on
how many git processes (shards) read the history: both checked against `git log` read independently, on random
histories with merges (the generators of test_properties.py), through the API, on both databases.
"""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from gitproductivity.analysis import reader
from gitproductivity.core import settings
from gitproductivity.core.db import Database
from tests.analysis.gitrepo import Repo, drain, lines
from tests.analysis.test_properties import AUTHORS, KEYS, apply, canonical, reference, step, totals
from tests.conftest import make_tenant

EXAMPLES = hsettings(
    max_examples=6,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # shrinking real repositories takes minutes
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MERGE = st.tuples(st.just("merge"), st.integers(0, len(AUTHORS) - 1), st.lists(st.just(("d.txt", 3)), min_size=1))


def first_parent_counts(repo: Repo) -> dict[str, tuple[int, int]]:
    """(commits, merges) per author along `git log --first-parent`, counted here from its plain text."""
    counts: Counter[tuple[str, bool]] = Counter()
    for line in repo.git("log", "--first-parent", "--use-mailmap", "--format=%aE %P").splitlines():
        email, *parents = line.split(" ")
        counts[canonical(email), len(parents) > 1] += 1
    return {a: (counts[a, False], counts[a, True]) for a in {a for a, _ in counts}}


def build(tmp_path: Path, steps: list[Any]) -> Repo:
    repo = Repo(tmp_path / uuid.uuid4().hex)
    repo.commit(AUTHORS[0], "2026-03-31T12:00:00Z", {"a.txt": lines(2)})
    for index, item in enumerate(steps):
        apply(repo, index, item)
    return repo


def analyse(client: TestClient, database: Database, repo: Repo) -> dict[str, tuple[int, ...]]:
    """A new organisation connects `repo`; its totals once analysed."""
    headers = make_tenant(database, f"owner-{uuid.uuid4().hex[:8]}@example.com").headers
    assert client.post("/v1/repositories", json={"url": str(repo.path)}, headers=headers).status_code == 201
    assert drain() == ["succeeded"]
    return totals(client, headers)


@pytest.mark.slow  # hypothesis over real git repositories
@EXAMPLES
@given(steps=st.lists(step, max_size=8), merge=MERGE, at=st.integers(0, 8))
def test_first_parent_counts_only_the_first_parent_chain(
    client: TestClient, database: Database, tmp_path: Path, steps: list[Any], merge: Any, at: int
) -> None:
    settings.configure(database_url=database.url, data_dir=tmp_path / "data", analysis_first_parent=True)
    repo = build(tmp_path, [*steps[:at], merge, *steps[at:]])
    got = analyse(client, database, repo)
    counted = {a: (t[KEYS.index("commits")], t[KEYS.index("merges")]) for a, t in got.items()}
    assert counted == first_parent_counts(repo)
    every = repo.git("rev-list", "--count", "HEAD")
    assert sum(c + m for c, m in counted.values()) < int(every)  # the merged side's commits were left out


@pytest.mark.slow  # hypothesis over real git repositories
@EXAMPLES
@given(steps=st.lists(step, min_size=1, max_size=10), shards=st.integers(1, 6))
@example(steps=[("commit", 1, [("d.txt", 2)]), ("commit", 2, [("b/c.txt", 4)])], shards=3)  # 3 shards of 1
def test_totals_do_not_depend_on_the_shard_count(
    client: TestClient, database: Database, tmp_path: Path, steps: list[Any], shards: int
) -> None:
    settings.configure(
        database_url=database.url, data_dir=tmp_path / "data", analysis_shards=shards, analysis_min_shard=1
    )
    repo = build(tmp_path, steps)
    assert analyse(client, database, repo) == reference(repo)


def test_three_shards_of_one_commit_each(client: TestClient, database: Database, tmp_path: Path) -> None:
    settings.configure(database_url=database.url, data_dir=tmp_path / "data", analysis_shards=3, analysis_min_shard=1)
    repo = build(tmp_path, [("commit", 2, [("d.txt", 2)]), ("merge", 3, [("b/c.txt", 4)])])
    commits = reader.list_commits(repo.path, repo.head())
    assert [len(p) for p in reader.split(commits, 3, 1)] == [2, 2, 1]  # five commits: the merge brings two
    repo3 = build(tmp_path, [("commit", 2, [("d.txt", 2)]), ("commit", 3, [("b/c.txt", 4)])])
    assert [len(p) for p in reader.split(reader.list_commits(repo3.path, repo3.head()), 3, 1)] == [1, 1, 1]
    assert analyse(client, database, repo3) == reference(repo3)
    assert analyse(client, database, repo) == reference(repo)
