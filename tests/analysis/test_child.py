"""Issue 12: an analysis runs in a child process (`analysis.child`), so its CPU work never holds the server's
interpreter; a child that dies is a failed job with a clear error, at once, not a job stuck until its lease
runs out. (A worker SIGKILLed mid-analysis, child and all, is tests/analysis/test_crash.py.)"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from gitproductivity.analysis import child, jobs
from gitproductivity.analysis.models import Analysis
from gitproductivity.core import settings
from gitproductivity.core.db import Database
from gitproductivity.events.models import Event
from gitproductivity.notifications.models import Notification
from gitproductivity.repositories import flows
from tests.analysis.gitrepo import Repo, lines
from tests.conftest import Tenant, run_async

pytestmark = pytest.mark.slow  # starts analysis child processes (a forkserver and its children)


def queue(database: Database, tenant: Tenant, path: Path, worker: str) -> str:
    with database.session() as session:
        repo = flows.connect(session, organization_id=tenant.organization_id, url=str(path)).id
    with database.session() as session:
        [queued] = session.scalars(select(Analysis).where(Analysis.repository_id == repo))
        assert jobs.claim(session, worker=worker, only=queued.id)
        return queued.id


def test_an_analysis_runs_to_its_end_in_a_child_process(database: Database, tenant: Tenant, tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("Jane <jane@example.com>", "2026-03-01T10:00:00Z", {"a.py": lines(4)})
    repo.commit("Joe <joe@example.com>", "2026-03-02T10:00:00Z", {"b.py": lines(2)})
    analysis_id = queue(database, tenant, repo.path, "parent-worker")
    pids: list[int] = []
    assert run_async(lambda: child.execute(analysis_id, "parent-worker", on_start=pids.append), timeout=120) == (
        "succeeded"
    )
    assert pids and pids[0] != os.getpid()
    with database.session() as session:
        done = session.get(Analysis, analysis_id)
        assert done is not None
        assert (done.status, done.commits_analysed, done.worker) == ("succeeded", 2, "parent-worker")
        types = list(session.scalars(select(Event.type).order_by(Event.seq)))
    assert types.count("developer.added") == 2 and types[-1] == "analysis.complete"


def test_a_child_that_dies_fails_its_job_at_once_with_a_clear_error(
    database: Database, database_url: str, tenant: Tenant, tmp_path: Path
) -> None:
    settings.configure(database_url=database_url, data_dir=tmp_path / "data", analysis_lease=3600)
    repo = Repo(tmp_path / "r")
    repo.commit("Jane <jane@example.com>", "2026-03-01T10:00:00Z", {"a.py": lines(4)})
    analysis_id = queue(database, tenant, repo.path, "parent-worker")
    started = time.monotonic()
    status = run_async(
        lambda: child.execute(analysis_id, "parent-worker", on_start=lambda pid: os.kill(pid, signal.SIGKILL)),
        timeout=120,
    )
    assert status == "failed"
    assert time.monotonic() - started < 60  # not the hour-long lease
    with database.session() as session:
        done = session.get(Analysis, analysis_id)
        assert done is not None and done.status == "failed"
        assert done.error == "the analysis process ended unexpectedly: it was killed by SIGKILL (out of memory?)"
        assert done.lease_expires_at is None
        notices = list(session.scalars(select(Notification.kind)))
    assert notices == ["analysis.failed"]


def test_describe_exit() -> None:
    assert child.describe_exit(3) == "it exited with status 3"
    assert child.describe_exit(-signal.SIGSEGV) == "it was killed by SIGSEGV"
    assert child.describe_exit(None) == "it did not report how it ended"
