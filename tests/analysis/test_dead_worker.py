"""Dead-worker detection for analyses: a `gitproductivity worker` SIGKILLed mid-analysis, with the default
300 s analysis lease, has its job taken again by the next worker to start within seconds, and finished once."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gitproductivity.analysis.models import Analysis
from gitproductivity.core.db import Database
from gitproductivity.core.settings import configure
from gitproductivity.core.workers import Worker
from gitproductivity.events.models import Event
from gitproductivity.repositories import flows
from tests.analysis.test_crash import AUTHORS, COMMITS, EXE, big_repo, slow_git
from tests.conftest import Tenant, inherited_env
from tests.webhooks.conftest import wait_for

pytestmark = pytest.mark.slow  # SIGKILLs a real `gitproductivity worker` mid-analysis

__all__ = ["big_repo"]  # the module-scoped fixture, shared with test_crash.py

LEASE = 300.0  # the default analysis lease: what a restart waited for before dead workers were detected


def test_a_restarted_worker_retakes_a_killed_worker_s_analysis_at_once(
    database: Database, database_url: str, tenant: Tenant, tmp_path: Path, big_repo: Path
) -> None:
    env = {
        **inherited_env(),
        "GITPRODUCTIVITY_DATABASE_URL": database_url,
        "GITPRODUCTIVITY_DATA_DIR": str(tmp_path / "data"),
        "GITPRODUCTIVITY_ANALYSIS_SHARDS": "1",
        "GITPRODUCTIVITY_ANALYSIS_RECHECK_INTERVAL": "0",
    }
    configure(database_url=database_url, data_dir=tmp_path / "data")

    def worker(n: int, **extra: str) -> subprocess.Popen[bytes]:
        log = open(tmp_path / f"worker-{n}.log", "wb")  # noqa: SIM115 (closed with the process)
        argv = [EXE, "worker", "--only", "analysis"]
        return subprocess.Popen(argv, env={**env, **extra}, stdout=log, stderr=subprocess.STDOUT)

    def logs() -> str:
        return "\n".join(p.read_text() for p in sorted(tmp_path.glob("worker-*.log")))

    first = worker(1, PATH=f"{slow_git(tmp_path / 'bin')}{os.pathsep}{os.environ['PATH']}")
    second: subprocess.Popen[bytes] | None = None
    try:
        with database.session() as session:
            repo = flows.connect(session, organization_id=tenant.organization_id, url=str(big_repo)).id

        def reading() -> Analysis | None:
            with database.session() as session:
                job = session.scalar(select(Analysis).where(Analysis.repository_id == repo))
            return job if job is not None and job.status == "running" and job.commits_done > 0 else None

        held = wait_for(reading, timeout=60, what=f"the worker to be reading commits; {logs()}")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        restarted = time.monotonic()
        second = worker(2)

        def retaken() -> Analysis | None:
            with database.session() as session:
                job = session.get(Analysis, held.id)
            return job if job is not None and job.worker != held.worker else None

        taken = wait_for(retaken, timeout=LEASE / 10, what=f"the job to be taken again; {logs()}")
        took = time.monotonic() - restarted
        print(f"\nthe killed worker's analysis was taken again {took:.1f} s after the restart (lease {LEASE:.0f} s)")
        assert took < 20, took
        assert taken.attempts == 2

        def finished() -> Analysis | None:
            with database.session() as session:
                job = session.get(Analysis, held.id)
            return job if job is not None and job.status != "running" else None

        done = wait_for(finished, timeout=120, what=f"the job to finish; {logs()}")
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
    assert (done.status, done.attempts, done.commits_analysed) == ("succeeded", 2, COMMITS), done.error
    with database.session() as session:
        mine = Event.organization_id == tenant.organization_id
        complete = session.scalar(select(func.count()).where(mine, Event.type == "analysis.complete"))
        updated = session.scalar(select(func.count()).where(mine, Event.type == "metrics.updated"))
        workers_left = session.scalar(select(func.count()).select_from(Worker))
    assert (updated, complete) == (len(AUTHORS), 1)
    assert workers_left == 0
    second_log = (tmp_path / "worker-2.log").read_text()
    assert "is gone" in second_log and "Traceback" not in second_log
