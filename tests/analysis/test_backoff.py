"""A repository whose analysis fails backs off (doubling up to the re-check interval), its owners hear once per
failure streak and once when it recovers, and healthy repositories never wait behind failing ones.

The failing repository is real: a repository whose branch points at an object that is not there. Time is the
clock the scheduler reads (`analysis.jobs.utcnow`), a `tests.clock.Clock` moved by the test, so hours of schedule
take no time.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from gitproductivity.analysis import jobs, store
from gitproductivity.analysis.models import Analysis
from gitproductivity.core import settings
from gitproductivity.core.db import Database
from gitproductivity.repositories.models import Repository
from tests.analysis.gitrepo import Repo, drain, lines
from tests.clock import Clock
from tests.conftest import Tenant
from tests.webhooks.conftest import Mailbox, smtp, wait_for

__all__ = ["smtp"]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(jobs, "utcnow", c)
    monkeypatch.setattr(store, "utcnow", c)
    return c


def make_repo(path: Path) -> Repo:
    repo = Repo(path)
    repo.commit("Ann <ann@example.com>", "2026-01-05T10:00:00Z", {"a.txt": lines(3)})
    return repo


def break_branch(repo: Repo) -> str:
    """Point the branch at an object that does not exist (what a damaged or half-copied repository looks like)."""
    good = repo.head()
    (repo.path / ".git" / "refs" / "heads" / "main").write_text("e" * 40 + "\n")
    return good


def mend_branch(repo: Repo, good: str) -> None:
    (repo.path / ".git" / "refs" / "heads" / "main").write_text(good + "\n")


def tick(database: Database) -> list[str]:
    """What the worker does on each poll: queue what the schedule says is due, then run it."""
    with database.session() as session:
        jobs.schedule_rechecks(session)
    return drain()


def notices(api: TestClient) -> list[str]:
    return [n["kind"] for n in reversed(api.get("/v1/notifications").json()["data"])]


def test_failures_back_off_doubling_to_the_interval_with_one_notice_per_streak(
    api: TestClient,
    database: Database,
    database_url: str,
    tenant: Tenant,
    tmp_path: Path,
    clock: Clock,
    smtp: tuple[Mailbox, int],
) -> None:
    box, port = smtp
    settings.configure(
        database_url=database_url,
        data_dir=tmp_path / "data",
        analysis_recheck_interval=3600,
        analysis_failure_backoff=300,
        smtp_host="127.0.0.1",
        smtp_port=port,
    )
    repo = make_repo(tmp_path / "flaky")
    repo_id = api.post("/v1/repositories", json={"url": str(repo.path)}).json()["id"]
    assert drain() == ["succeeded"]
    good = break_branch(repo)

    attempts: list[datetime] = []
    start = clock.now
    for _ in range(6 * 60):  # six hours in one-minute polls
        clock.advance(60)
        for status in tick(database):
            assert status == "failed"
            attempts.append(clock.now)
    gaps = [int((b - a).total_seconds()) for a, b in zip([start, *attempts], attempts, strict=False)]
    # Due at the re-check interval; then 5, 10, 20, 40 min, then never more often than the interval.
    assert gaps == [3600, 300, 600, 1200, 2400, 3600, 3600, 3600]
    with database.session() as session:
        row = session.get(Repository, repo_id)
        assert row is not None and row.analysis_failures == 8
        triggers = [a.trigger for a in session.scalars(select(Analysis).order_by(Analysis.created_at, Analysis.id))]
    assert triggers == ["connect", "schedule", *["retry"] * 7]

    # Every attempt is an analysis that ended, so each says so (the backoff bounds how often); one notice.
    complete = api.get("/v1/events", params={"type": "analysis.complete", "limit": 100}).json()["data"]
    assert [e["data"]["status"] for e in complete] == ["succeeded", *["failed"] * 8]
    assert notices(api) == ["analysis.failed"]

    mend_branch(repo, good)
    clock.advance(3600)
    assert tick(database) == ["succeeded"]
    assert notices(api) == ["analysis.failed", "analysis.recovered"]
    with database.session() as session:
        row = session.get(Repository, repo_id)
        assert row is not None and (row.analysis_failures, row.analysis_retry_at) == (0, None)

    # A new streak is news again.
    break_branch(repo)
    clock.advance(3600)
    assert tick(database) == ["failed"]
    clock.advance(300)
    assert tick(database) == ["failed"]
    assert notices(api) == ["analysis.failed", "analysis.recovered", "analysis.failed"]

    mails = wait_for(lambda: box.messages if len(box.messages) >= 3 else None, what="three e-mails")
    subjects = [line for m in mails for line in m["data"].splitlines() if line.startswith("Subject:")]
    assert len(subjects) == 3, subjects
    assert "failed" in subjects[0] and "succeeded again" in subjects[1] and "failed" in subjects[2]


def test_a_healthy_repository_is_analysed_before_failing_ones(
    api: TestClient, database: Database, database_url: str, tmp_path: Path, clock: Clock
) -> None:
    settings.configure(
        database_url=database_url,
        data_dir=tmp_path / "data",
        analysis_recheck_interval=3600,
        analysis_failure_backoff=300,
    )
    failing = [make_repo(tmp_path / f"broken{i}") for i in range(3)]
    failing_ids = [api.post("/v1/repositories", json={"url": str(r.path)}).json()["id"] for r in failing]
    healthy = make_repo(tmp_path / "healthy")
    healthy_id = api.post("/v1/repositories", json={"url": str(healthy.path)}).json()["id"]
    for repo in failing:
        break_branch(repo)
    assert sorted(drain()) == ["failed", "failed", "failed", "succeeded"]

    clock.advance(3600)  # everything is due: the healthy repository's re-check and the failing ones' retries
    with database.session() as session:
        assert jobs.schedule_rechecks(session) == 4
    with database.session() as session:
        [first] = jobs.claim(session, worker="w", limit=1)
        assert first.repository_id == healthy_id and first.trigger == "schedule"
        others = jobs.claim(session, worker="w", limit=10)
        assert sorted(a.repository_id for a in others) == sorted(failing_ids)
        assert {a.trigger for a in others} == {"retry"}


def test_a_retry_is_not_queued_before_its_time(
    api: TestClient, database: Database, database_url: str, tmp_path: Path, clock: Clock
) -> None:
    settings.configure(
        database_url=database_url,
        data_dir=tmp_path / "data",
        analysis_recheck_interval=60,
        analysis_failure_backoff=300,
    )
    repo = make_repo(tmp_path / "broken")
    repo_id = api.post("/v1/repositories", json={"url": str(repo.path)}).json()["id"]
    break_branch(repo)
    assert drain() == ["failed"]
    # The re-check interval (60 s) is shorter than the first backoff: the failing repository still waits 300 s.
    for _ in range(4):
        clock.advance(60)
        assert tick(database) == []
    clock.advance(60)
    assert tick(database) == ["failed"]
    with database.session() as session:
        row = session.get(Repository, repo_id)
        assert row is not None and row.analysis_retry_at == clock.now + timedelta(seconds=300)


def test_asking_for_an_analysis_of_a_failing_repository_runs_it_without_waiting(
    api: TestClient, database: Database, database_url: str, tmp_path: Path, clock: Clock
) -> None:
    settings.configure(
        database_url=database_url,
        data_dir=tmp_path / "data",
        analysis_recheck_interval=3600,
        analysis_failure_backoff=300,
    )
    repo = make_repo(tmp_path / "broken")
    repo_id = api.post("/v1/repositories", json={"url": str(repo.path)}).json()["id"]
    good = break_branch(repo)
    assert drain() == ["failed"]
    clock.advance(300)
    with database.session() as session:
        assert jobs.schedule_rechecks(session) == 1
    queued = api.post(f"/v1/repositories/{repo_id}/analyses").json()
    assert queued["trigger"] == "api"  # the queued retry, moved to the front
    mend_branch(repo, good)
    assert drain() == ["succeeded"]


def test_the_streak_and_the_next_try_are_shown_in_the_api_and_the_ui(
    api: TestClient, tenant: Tenant, database_url: str, tmp_path: Path, clock: Clock
) -> None:
    settings.configure(
        database_url=database_url,
        data_dir=tmp_path / "data",
        analysis_recheck_interval=3600,
        analysis_failure_backoff=600,
    )
    repo = make_repo(tmp_path / "broken")
    repo_id = api.post("/v1/repositories", json={"url": str(repo.path)}).json()["id"]
    break_branch(repo)
    assert drain() == ["failed"]
    shown = api.get(f"/v1/repositories/{repo_id}").json()
    assert shown["analysis_failures"] == 1
    assert datetime.fromisoformat(shown["analysis_retry_at"]) == clock.now + timedelta(seconds=600)

    page = api.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    form = {"email": tenant.email, "password": tenant.password, "csrf_token": token.group(1)}
    assert api.post("/login", data=form, follow_redirects=False).status_code == 303
    html = api.get("/repositories", headers={"Accept": "text/html"}).text
    assert "1 failed in a row · tried again in 9 minutes" in html
