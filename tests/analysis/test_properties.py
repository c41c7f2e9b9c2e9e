"""Properties: totals equal what plain `git log --numstat` says, and any incremental split equals one full run."""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from gitproductivity.core.db import Database
from tests.analysis.gitrepo import Repo, drain, lines
from tests.conftest import make_tenant

pytestmark = pytest.mark.slow  # hypothesis over real git repositories

AUTHORS = [
    "Ann <ann@x.org>",
    "ann <ANN@X.org>",
    "Ben <ben@x.org>",
    "Cy <12+cy@users.noreply.github.com>",
    "Cy <cy@users.noreply.github.com>",
]
FILES = ["a.txt", "b/c.txt", "vendor/v.js", "web/x.min.js", "bin.dat", "d.txt"]
KEYS = ("commits", "merges", "lines_added", "lines_deleted", "files_changed", "active_days")

change = st.tuples(st.sampled_from(FILES), st.integers(min_value=0, max_value=25))
step: st.SearchStrategy[tuple[str, int, list[tuple[str, int]]]] = st.one_of(
    st.tuples(st.just("commit"), st.integers(0, len(AUTHORS) - 1), st.lists(change, min_size=1, max_size=3)),
    st.tuples(st.just("merge"), st.integers(0, len(AUTHORS) - 1), st.lists(change, min_size=1, max_size=2)),
    st.tuples(st.just("rename"), st.integers(0, len(AUTHORS) - 1), st.just([])),
)


def canonical(email: str) -> str:
    return re.sub(r"^\d+\+(.*@users\.noreply\.github\.com)$", r"\1", email.strip().lower())


def excluded(path: str) -> bool:
    return path.startswith("vendor/") or path.endswith(".min.js")


def reference(repo: Repo) -> dict[str, tuple[int, ...]]:
    """Per-author totals straight from plain `git log` output (text, not -z), with the same filters."""
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    days: dict[str, set[str]] = defaultdict(set)
    author = ""
    for line in repo.git("log", "--use-mailmap", "-M", "--numstat", "--format=@%aE %at %P").splitlines():
        if line.startswith("@"):
            email, when, *parents = line[1:].split(" ")
            author = canonical(email)
            sums[author][1 if len(parents) > 1 else 0] += 1
            days[author].add(datetime.fromtimestamp(int(when), UTC).date().isoformat())
        elif line.strip():
            added, deleted, path = line.split("\t", 2)
            if added != "-" and not excluded(path.split(" => ")[-1]):
                sums[author][2] += int(added)
                sums[author][3] += int(deleted)
                sums[author][4] += 1
    return {a: (*s, len(days[a])) for a, s in sums.items()}


def totals(client: TestClient, headers: dict[str, str]) -> dict[str, tuple[int, ...]]:
    data = client.get("/v1/metrics/developers", headers=headers).json()["data"]
    return {d["email"]: tuple(d["totals"][k] for k in KEYS) for d in data}


def apply(repo: Repo, index: int, item: tuple[str, int, list[tuple[str, int]]]) -> None:
    kind, who, changes = item
    when = f"2026-04-{1 + index // 3:02d}T{(index * 7) % 24:02d}:15:00+0{index % 3}:00"
    author = AUTHORS[who]

    def content(name: str, count: int) -> dict[str, Any]:
        if count == 0:
            return {name: None} if (repo.path / name).exists() else {}
        if name.endswith(".dat"):
            return {name: b"\0bin" * count}
        return {name: lines(count, f"{name}-{index}" if count % 2 else name)}

    files: dict[str, Any] = {}
    for name, count in changes:
        files |= content(name, count)
    if kind == "rename":
        old, new = ("a.txt", "e.txt") if (repo.path / "a.txt").exists() else ("e.txt", "a.txt")
        if (repo.path / old).exists() and not (repo.path / new).exists():
            text = (repo.path / old).read_text()
            repo.rename(author, when, old, new, text + "renamed\n")
            return
        kind, files = "commit", {"a.txt": lines(3)}
    if kind == "merge":
        repo.git("checkout", "-q", "-b", f"side{index}")
        repo.commit(AUTHORS[(who + 1) % len(AUTHORS)], when, files)
        repo.git("checkout", "-q", "main")
        repo.commit(author, when, {"main.txt": lines(index % 5 + 1, f"main{index}")})  # never touched on a side
        repo.merge(author, when, f"side{index}")
        return
    repo.commit(author, when, files)


@settings(
    max_examples=6,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # shrinking real repositories takes minutes
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(step, min_size=1, max_size=10), cuts=st.sets(st.integers(0, 9), max_size=4))
def test_incremental_steps_equal_full_run_and_git_log(
    client: TestClient, database: Database, tmp_path: Path, steps: list[Any], cuts: set[int]
) -> None:
    tenant = make_tenant(database, f"owner-{uuid.uuid4().hex[:8]}@example.com")
    headers = tenant.headers
    repo = Repo(tmp_path / uuid.uuid4().hex)
    repo.commit(AUTHORS[0], "2026-03-31T12:00:00Z", {"a.txt": lines(2)})
    repo_id = client.post("/v1/repositories", json={"url": str(repo.path)}, headers=headers).json()["id"]
    drain()
    for index, item in enumerate(steps):
        apply(repo, index, item)
        if index in cuts:
            client.post(f"/v1/repositories/{repo_id}/analyses", headers=headers)
            drain()
    client.post(f"/v1/repositories/{repo_id}/analyses", headers=headers)
    drain()
    incremental = totals(client, headers)
    assert incremental == reference(repo)
    client.post(f"/v1/repositories/{repo_id}/analyses", json={"full": True}, headers=headers)
    drain()
    assert totals(client, headers) == incremental
