"""The analysis queue's two promises (analysis/jobs.py): a repository never has two jobs running at once, and a
job whose worker stopped is taken again at most `MAX_ATTEMPTS` (3) times, then failed.

Real git repositories (tests/analysis/gitrepo.py), both databases. Time is `tests.clock.Clock` over
`jobs.utcnow`, so a lease runs out when the test says. The concurrent case uses two claimers in two threads,
each with its own connection, the first holding its claim's transaction open while the second claims.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from gitproductivity.analysis import jobs, run, store
from gitproductivity.analysis.models import Analysis
from gitproductivity.core import settings
from gitproductivity.core.db import Database
from gitproductivity.repositories import flows
from tests.analysis.gitrepo import Repo, lines
from tests.clock import Clock
from tests.conftest import Tenant

ALICE = "Alice <alice@example.com>"
LEASE = 300.0


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    c = Clock()
    monkeypatch.setattr(jobs, "utcnow", c)
    monkeypatch.setattr(store, "utcnow", c)
    yield c


@pytest.fixture
def repo_id(database: Database, tenant: Tenant, tmp_path: Path, clock: Clock) -> str:
    """A connected repository (connecting queues its first analysis)."""
    settings.configure(database_url=database.url, data_dir=tmp_path / "data", analysis_lease=LEASE)
    repo = Repo(tmp_path / "r")
    repo.commit(ALICE, "2026-02-01T10:00:00Z", {"a.txt": lines(2)})
    with database.session() as session:
        return flows.connect(session, organization_id=tenant.organization_id, url=str(repo.path)).id


def claim(database: Database, worker: str, limit: int = 5) -> list[tuple[str, int]]:
    with database.session() as session:
        return [(a.id, a.attempts) for a in jobs.claim(session, worker=worker, limit=limit)]


def statuses(database: Database, repo_id: str) -> list[tuple[str, str, str | None]]:
    with database.session() as session:
        rows = session.scalars(select(Analysis).where(Analysis.repository_id == repo_id).order_by(Analysis.id))
        return [(a.id, a.status, a.worker) for a in rows]


def queue_again(database: Database, tenant: Tenant, repo_id: str) -> str:
    with database.session() as session:
        return jobs.enqueue(session, organization_id=tenant.organization_id, repository_id=repo_id, trigger="api").id


def test_a_job_whose_worker_keeps_stopping_is_failed_after_three_attempts(
    database: Database, tenant: Tenant, repo_id: str, clock: Clock
) -> None:
    [(job, _)] = [(a, s) for a, s, _w in statuses(database, repo_id)]
    for attempt in (1, 2, 3):
        assert claim(database, f"dies-{attempt}") == [(job, attempt)]
        assert claim(database, "bystander") == []  # leased: nobody else takes it meanwhile
        clock.advance(LEASE)  # the worker never renewed its lease
    assert jobs.MAX_ATTEMPTS == 3
    assert claim(database, "fourth") == []  # not a fourth time: failed instead
    with database.session() as session:
        failed = jobs.get(session, organization_id=tenant.organization_id, analysis_id=job)
        assert (failed.status, failed.attempts) == ("failed", 3)
        assert failed.error == "the worker stopped 3 times while analysing"


def test_a_repository_with_a_running_job_gets_no_second_one(
    database: Database, tenant: Tenant, repo_id: str, clock: Clock
) -> None:
    [(first, _)] = claim(database, "w1")
    second = queue_again(database, tenant, repo_id)  # asked for while the first runs: queued behind it
    assert second != first
    assert claim(database, "w2") == []  # the first job's lease is alive: the repository is busy
    clock.advance(LEASE - 1)
    assert claim(database, "w2") == []
    assert run.execute(analysis_id=first, worker="w1") == "succeeded"
    assert claim(database, "w2") == [(second, 1)]  # the first one finished: now the next runs


def test_one_claim_never_takes_two_jobs_of_one_repository(
    database: Database, tenant: Tenant, repo_id: str, clock: Clock
) -> None:
    [(first, _)] = claim(database, "dies")
    second = queue_again(database, tenant, repo_id)
    clock.advance(LEASE)  # the first job's worker died: its job and the queued one are both claimable
    taken = claim(database, "rescuer", limit=5)
    assert taken == [(first, 2)]  # the older one, again; the queued one waits for it
    assert [(a, s) for a, s, _w in statuses(database, repo_id)] == [(first, "running"), (second, "queued")]


def test_two_claimers_at_once_never_run_two_jobs_of_one_repository(
    database: Database, tenant: Tenant, repo_id: str, clock: Clock
) -> None:
    """Claimer A holds its claim's transaction open while claimer B claims (PostgreSQL: B skips A's locked row;
    SQLite: B waits for A's transaction). Either way one job of the repository runs, not two."""
    claim(database, "dies")
    queue_again(database, tenant, repo_id)
    clock.advance(LEASE)  # a dead worker's job, claimable again, and a queued one of the same repository
    a_claimed, b_started, b_done = threading.Event(), threading.Event(), threading.Event()
    got: dict[str, list[tuple[str, int]]] = {}
    errors: list[BaseException] = []

    def claimer_a() -> None:
        try:
            with database.session() as session:
                got["a"] = [(x.id, x.attempts) for x in jobs.claim(session, worker="a", limit=1)]
                a_claimed.set()
                # PostgreSQL: B claims while this transaction is open. SQLite: B's BEGIN IMMEDIATE waits for it.
                assert (b_started if database.is_sqlite else b_done).wait(20.0)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
            a_claimed.set()

    def claimer_b() -> None:
        try:
            assert a_claimed.wait(20.0)
            b_started.set()
            got["b"] = claim(database, "b", limit=1)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            b_done.set()

    threads = [threading.Thread(target=claimer_a), threading.Thread(target=claimer_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    running = [(w, s) for _a, s, w in statuses(database, repo_id) if s == "running"]
    assert len(got["a"]) + len(got["b"]) == 1 and len(running) == 1, (got, running)
