"""Properties on random histories (merges clean and conflicting, renames, reverts, ignored revisions, binary and
excluded files, commits days apart around the churn window): each commit's categories equal the brute force over
full `git blame <parent>`, and the rollups stored by incremental analyses equal those of a full analysis."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from gitproductivity.core.db import Database
from gitproductivity.metrics.models import DailyRollup
from tests.analysis.categories_truth import brute_force
from tests.analysis.gitrepo import drain
from tests.analysis.test_categories import engine, one_engine
from tests.analysis.test_ownership_properties import History, step

pytestmark = pytest.mark.slow  # hypothesis over real git repositories and real analyses


class Spread(History):
    """Commits four days apart (with time zones): the 21-day window splits the history."""

    def when(self) -> str:
        self.n += 1
        zone = ["Z", "+05:30", "-08:00"][self.n % 3]
        return f"2026-{1 + (self.n * 4) // 28:02d}-{1 + (self.n * 4) % 28:02d}T12:{self.n % 60:02d}:00{zone}"


def rollups(database: Database, repo_id: str) -> set[tuple[Any, ...]]:
    with database.session() as session:
        rows = session.scalars(select(DailyRollup).where(DailyRollup.repository_id == repo_id))
        names = ["developer_id", "day", "commits", "merges", "lines_added", "lines_deleted", "files_changed"]
        names += ["new_work", "refactor", "rework", "help_others", "co_authored_commits"]
        return {tuple(getattr(r, n) for n in names) for r in rows}


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=3, max_size=9), cut=st.integers(1, 8))
def test_categories_are_blame_and_incremental_is_full(
    steps: list[tuple[str, int, list[tuple[str, int, int, int]]]],
    cut: int,
    tmp_path: Path,
    api: TestClient,
    database: Database,
) -> None:
    history = Spread(tmp_path / uuid.uuid4().hex)
    repo_id = ""
    for index, (kind, who, edits) in enumerate(steps):
        history.step(kind, who, edits)
        if index + 1 == min(cut, len(steps) - 1):  # the first analysis, then one incremental analysis per step
            repo_id = api.post("/v1/repositories", json={"url": str(history.repo.path)}).json()["id"]
            assert drain() == ["succeeded"]
        elif repo_id:
            api.post(f"/v1/repositories/{repo_id}/analyses")
            assert drain() == ["succeeded"]
    expected = {sha: f.as_tuple() for sha, f in brute_force(history.repo).items()}
    assert engine(history.repo) == expected
    incremental = rollups(database, repo_id)
    api.post(f"/v1/repositories/{repo_id}/analyses", json={"full": True})
    assert drain() == ["succeeded"]
    assert rollups(database, repo_id) == incremental


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=3, max_size=16))
def test_replaying_history_is_blame(
    steps: list[tuple[str, int, list[tuple[str, int, int, int]]]], tmp_path: Path
) -> None:
    """The one-pass replay (`analysis.origins`) against the brute force alone, on longer random histories."""
    history = Spread(tmp_path / uuid.uuid4().hex)
    for kind, who, edits in steps:
        history.step(kind, who, edits)
    expected = {sha: f.as_tuple() for sha, f in brute_force(history.repo).items()}
    assert one_engine(history.repo, commit_graph=False, mode="replay") == expected
