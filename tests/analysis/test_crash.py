"""A `gitproductivity worker` SIGKILLed in the middle of an analysis leaves no half-written metrics; the job is
taken again once its lease runs out, and the totals then equal those of a clean run.

So that the kill lands while the history is being read on any machine, the first worker finds a `git` on its
PATH that runs the real git and hands its `git log --numstat` output on at about 200 KB/s (a slow disk).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gitproductivity.analysis import jobs, run
from gitproductivity.analysis.models import Analysis
from gitproductivity.core.db import Database
from gitproductivity.core.settings import configure
from gitproductivity.events.models import Event
from gitproductivity.metrics import service as metrics
from gitproductivity.metrics.models import DailyRollup
from gitproductivity.repositories import flows
from gitproductivity.repositories import service as repositories
from tests.conftest import Tenant, inherited_env
from tests.webhooks.conftest import wait_for

pytestmark = pytest.mark.slow  # SIGKILLs real `gitproductivity worker` processes

EXE = str(Path(sys.executable).with_name("gitproductivity"))
COMMITS = 5_000
AUTHORS = [(f"Dev {i}", f"dev{i}@example.com") for i in range(6)]


@pytest.fixture(scope="module")
def big_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real repository of COMMITS commits by six people, written with `git fast-import` (quick to make)."""
    path = tmp_path_factory.mktemp("crash") / "big.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
    chunks: list[bytes] = []
    for i in range(COMMITS):
        name, email = AUTHORS[(i * 7) % len(AUTHORS)]
        when = 1_700_000_000 + i * 3600
        body = "".join(f"line {i} {k}\n" for k in range(i % 9 + 1)).encode()
        message = f"change {i}".encode()
        chunks.append(
            b"commit refs/heads/main\n"
            + f"committer {name} <{email}> {when} +0000\n".encode()
            + f"data {len(message)}\n".encode()
            + message
            + b"\n"
            + f"M 100644 inline src/f{i % 97}.txt\ndata {len(body)}\n".encode()
            + body
            + b"\n"
        )
    done = subprocess.run(
        ["git", "-C", str(path), "fast-import", "--quiet"], input=b"".join(chunks), capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return path


SLOW_GIT = """#!/bin/sh
case "$*" in
  *--numstat*|*-U0*) "{git}" "$@" | "{python}" -c '
import sys, time
while chunk := sys.stdin.buffer.read(2048):
    sys.stdout.buffer.write(chunk)
    sys.stdout.buffer.flush()
    time.sleep(0.01)
' ;;
  *) exec "{git}" "$@" ;;
esac
"""


def slow_git(where: Path) -> Path:
    real = shutil.which("git")
    assert real is not None
    where.mkdir()
    script = where / "git"
    script.write_text(SLOW_GIT.format(git=real, python=sys.executable))
    script.chmod(0o755)
    return where


def totals(database: Database, organization_id: str) -> dict[str, dict[str, object]]:
    with database.session() as session:
        rows = metrics.developers_summary(session, organization_id=organization_id)
        return {dev.email: t.as_dict() for dev, t in rows}


def test_worker_killed_mid_analysis_leaves_nothing_half_written(
    database: Database, database_url: str, tenant: Tenant, other_tenant: Tenant, tmp_path: Path, big_repo: Path
) -> None:
    # The clean run: the same repository, analysed in this process for another organisation.
    with database.session() as session:
        clean_repo = flows.connect(session, organization_id=other_tenant.organization_id, url=str(big_repo)).id
    with database.session() as session:  # connecting queued a job; run it here instead of in a worker
        [queued] = session.scalars(select(Analysis).where(Analysis.repository_id == clean_repo))
        jobs.claim(session, worker="clean", only=queued.id)
    assert run.execute(analysis_id=queued.id, worker="clean") == "succeeded"
    clean = totals(database, other_tenant.organization_id)
    assert sum(int(t["commits"]) for t in clean.values()) == COMMITS  # type: ignore[call-overload]

    # The crash run: a worker process, killed while it reads the history.
    env = {
        **inherited_env(),
        "GITPRODUCTIVITY_DATABASE_URL": database_url,
        "GITPRODUCTIVITY_DATA_DIR": str(tmp_path / "data"),
        "GITPRODUCTIVITY_ANALYSIS_LEASE": "2",  # a dead worker's job is taken again 2 s after its last renewal
        "GITPRODUCTIVITY_ANALYSIS_POLL_INTERVAL": "0.2",
        "GITPRODUCTIVITY_ANALYSIS_SHARDS": "1",
        "GITPRODUCTIVITY_ANALYSIS_RECHECK_INTERVAL": "0",
    }
    configure(database_url=database_url, data_dir=tmp_path / "data", analysis_lease=2)

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
            assert job is None or job.status in ("queued", "running"), (job.status, logs())
            return job if job is not None and job.status == "running" and job.commits_done > 0 else None

        job = wait_for(reading, timeout=60, what=f"the worker to be reading commits; {logs()}")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        with database.session() as session:
            job = session.get(Analysis, job.id)
            assert job is not None and job.status == "running" and 0 < job.commits_done < COMMITS
            assert session.scalar(select(func.count()).where(DailyRollup.repository_id == repo)) == 0
            mine = Event.organization_id == tenant.organization_id
            assert session.scalar(select(func.count()).where(mine, Event.type == "metrics.updated")) == 0
            assert session.scalar(select(func.count()).where(mine, Event.type == "analysis.complete")) == 0
            assert (
                repositories.get(session, organization_id=tenant.organization_id, repository_id=repo).last_commit
                is None
            )
        assert totals(database, tenant.organization_id) == {}

        second = worker(2)

        def finished() -> Analysis | None:
            with database.session() as session:
                done = session.get(Analysis, job.id)
            return done if done is not None and done.status != "running" else None

        done = wait_for(finished, timeout=90, what="the job to be taken again and finished")
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
    assert (done.status, done.attempts, done.commits_analysed) == ("succeeded", 2, COMMITS), done.error
    assert totals(database, tenant.organization_id) == clean
    with database.session() as session:
        mine = Event.organization_id == tenant.organization_id
        updated = session.scalar(select(func.count()).where(mine, Event.type == "metrics.updated"))
        complete = session.scalar(select(func.count()).where(mine, Event.type == "analysis.complete"))
    assert (updated, complete) == (len(AUTHORS), 1)  # one set of events: the run that stored its results
    assert "Traceback" not in (tmp_path / "worker-2.log").read_text()
