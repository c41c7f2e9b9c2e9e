"""New commits only, force-pushes, rule changes, and the jobs that run analyses."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from gitproductivity.analysis import jobs, run, store
from gitproductivity.core import channels, settings
from gitproductivity.core.db import Database
from tests.analysis.gitrepo import Repo, drain, lines
from tests.clock import Clock
from tests.conftest import Tenant, run_async

ALICE = "Alice <alice@example.com>"
BOB = "Bob <bob@example.com>"
LEASE = 300.0
POLL = 60.0  # a worker's poll interval, far longer than any wait below: only a wake-up answers in time


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    """The queue's and the store's `utcnow`: a lease ends, or a re-check falls due, when the test says."""
    c = Clock()
    monkeypatch.setattr(jobs, "utcnow", c)
    monkeypatch.setattr(store, "utcnow", c)
    yield c


def listeners(database: Database) -> int:
    """PostgreSQL sessions of this database waiting on LISTEN for queued analyses."""
    with database.session() as session:
        return int(
            session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND state = 'idle' AND query = :listen"
                ),
                {"listen": f"LISTEN {channels.ANALYSIS.name}"},
            )
        )


def events(api: TestClient, type: str) -> list[dict[str, Any]]:
    return [e["data"] for e in api.get("/v1/events", params={"type": type, "limit": 500}).json()["data"]]


def team(api: TestClient) -> dict[str, tuple[int, ...]]:
    data = api.get("/v1/metrics/developers").json()["data"]
    keys = ("commits", "merges", "lines_added", "lines_deleted", "files_changed", "active_days")
    return {d["email"]: tuple(d["totals"][k] for k in keys) for d in data}


def latest(api: TestClient, repo_id: str) -> dict[str, Any]:
    return api.get(f"/v1/repositories/{repo_id}/analyses").json()["data"][0]  # type: ignore[no-any-return]


def test_incremental_then_force_push(api: TestClient, tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit(ALICE, "2026-02-01T10:00:00Z", {"a.txt": lines(5)})
    repo.commit(BOB, "2026-02-02T10:00:00Z", {"b.txt": lines(3)})
    repo_id = api.post("/v1/repositories", json={"url": str(repo.path)}).json()["id"]
    drain()
    assert team(api) == {"alice@example.com": (1, 0, 5, 0, 1, 1), "bob@example.com": (1, 0, 3, 0, 1, 1)}

    # Nothing new: up to date, no metrics.updated, but an analysis.complete all the same.
    api.post(f"/v1/repositories/{repo_id}/analyses")
    drain()
    assert latest(api, repo_id)["mode"] == "up_to_date"
    assert len(events(api, "metrics.updated")) == 2
    assert len(events(api, "analysis.complete")) == 2

    # One new commit: only it is read; one metrics.updated with the delta.
    keep = repo.head()
    repo.commit(BOB, "2026-02-03T10:00:00Z", {"b.txt": lines(7)})
    resp = api.post(f"/v1/repositories/{repo_id}/analyses")
    assert resp.status_code == 202 and resp.json()["status"] == "queued"
    assert api.post(f"/v1/repositories/{repo_id}/analyses").json()["id"] == resp.json()["id"]  # one job
    drain()
    run = latest(api, repo_id)
    assert (run["mode"], run["commits_analysed"], run["new_commits"], run["base_commit"]) == (
        "incremental",
        1,
        1,
        keep,
    )
    assert team(api)["bob@example.com"] == (2, 0, 7, 0, 2, 2)
    update = events(api, "metrics.updated")[-1]
    assert update["email"] == "bob@example.com"
    assert update["delta"] == {
        "commits": 1,
        "merges": 0,
        "lines_added": 4,
        "lines_deleted": 0,
        "files_changed": 1,
        "new_work": 4,  # four new lines replacing nothing (docs/metrics.md, "Change categories")
        "refactor": 0,
        "rework": 0,
        "help_others": 0,
        "co_authored_commits": 0,
        "active_days": 1,
    }
    assert update["totals"]["commits"] == 2

    # Force-push: the analysed head is no longer an ancestor -> full re-analysis, right numbers, deltas < 0.
    repo.git("reset", "-q", "--hard", keep)
    repo.git("reset", "-q", "--hard", "HEAD~1")
    repo.commit(ALICE, "2026-02-04T10:00:00Z", {"a.txt": lines(6)})
    api.post(f"/v1/repositories/{repo_id}/analyses")
    drain()
    run = latest(api, repo_id)
    assert (run["mode"], run["reason"], run["commits_analysed"], run["new_commits"]) == ("full", "force_push", 2, 1)
    assert team(api) == {"alice@example.com": (2, 0, 6, 0, 2, 2)}
    bob = [u for u in events(api, "metrics.updated") if u["email"] == "bob@example.com"][-1]
    assert bob["delta"]["commits"] == -2 and bob["totals"]["commits"] == 0
    final = events(api, "analysis.complete")[-1]
    assert final["mode"] == "full" and final["head_commit"] == repo.head()


def test_mailmap_change_reads_history_again(api: TestClient, tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("Al <al@home.example>", "2026-02-01T10:00:00Z", {"a.txt": lines(5)})
    repo_id = api.post("/v1/repositories", json={"url": str(repo.path)}).json()["id"]
    drain()
    assert set(team(api)) == {"al@home.example"}
    repo.commit(ALICE, "2026-02-02T10:00:00Z", {".mailmap": "Alice <alice@example.com> <al@home.example>\n"})
    api.post(f"/v1/repositories/{repo_id}/analyses")
    drain()
    run = latest(api, repo_id)
    assert (run["mode"], run["reason"]) == ("full", "rules_changed")
    assert team(api) == {"alice@example.com": (2, 0, 6, 0, 2, 2)}


def test_failed_analysis_reports_why(api: TestClient, tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit(ALICE, "2026-02-01T10:00:00Z", {"a.txt": lines(1)})
    repo_id = api.post("/v1/repositories", json={"url": str(repo.path)}).json()["id"]
    # The branch it should read does not exist.
    with api_db_session() as session:
        from gitproductivity.repositories.models import Repository

        row = session.get(Repository, repo_id)
        assert row is not None
        row.branch = "nope"
    assert drain() == ["failed"]
    run = latest(api, repo_id)
    assert run["status"] == "failed" and "nope" in run["error"]
    complete = events(api, "analysis.complete")
    assert [(c["status"], c["analysis_id"]) for c in complete] == [("failed", run["id"])]
    assert "nope" in complete[0]["error"]
    assert events(api, "metrics.updated") == []
    # The owners are told, in the app (and by e-mail when SMTP is configured).
    notes = api.get("/v1/notifications").json()["data"]
    assert [(n["kind"], n["subject_id"]) for n in notes] == [("analysis.failed", run["id"])]
    assert "nope" in notes[0]["body"] and notes[0]["read_at"] is None


def api_db_session() -> Any:
    from gitproductivity.core.db import get_database

    return get_database().session()


def test_crashed_workers_job_is_taken_again(database: Database, tenant: Tenant, tmp_path: Path, clock: Clock) -> None:
    settings.configure(database_url=database.url, data_dir=tmp_path / "data", analysis_lease=LEASE)
    repo = Repo(tmp_path / "r")
    repo.commit(ALICE, "2026-02-01T10:00:00Z", {"a.txt": lines(2)})
    from gitproductivity.repositories import flows

    with database.session() as session:
        repo_id = flows.connect(session, organization_id=tenant.organization_id, url=str(repo.path)).id
    with database.session() as session:
        first = jobs.claim(session, worker="crashed", limit=5)
        assert [a.repository_id for a in first] == [repo_id]
        analysis_id = first[0].id
    clock.advance(LEASE - 1)
    with database.session() as session:
        assert jobs.claim(session, worker="other", limit=5) == []  # leased: nobody else takes it
    clock.advance(1)  # the "crashed" worker never renewed its lease, which ends now
    with database.session() as session:
        again = jobs.claim(session, worker="rescuer", limit=5)
        assert [(a.id, a.attempts) for a in again] == [(analysis_id, 2)]
    assert run.execute(analysis_id=analysis_id, worker="crashed") == "lost"  # the old worker may not finish it
    assert run.execute(analysis_id=analysis_id, worker="rescuer") == "succeeded"
    with database.session() as session:
        assert jobs.get(session, organization_id=tenant.organization_id, analysis_id=analysis_id).status == (
            "succeeded"
        )


def test_worker_component_runs_queued_jobs(
    database: Database, tenant: Tenant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from gitproductivity.analysis import tasks
    from gitproductivity.repositories import flows

    # Its next poll is a minute away: the job, queued in this process once the worker has found nothing and
    # waits, reaches it by the wake-up (in-process; on PostgreSQL NOTIFY as well).
    settings.configure(database_url=database.url, data_dir=tmp_path / "data", analysis_poll_interval=POLL)
    repo = Repo(tmp_path / "r")
    repo.commit(ALICE, "2026-02-01T10:00:00Z", {"a.txt": lines(2)})
    idle = threading.Event()
    real_claim = tasks._claim

    def spied_claim(worker: str, free: int) -> list[str]:
        found = real_claim(worker, free)
        if not found:
            idle.set()
        return found

    monkeypatch.setattr(tasks, "_claim", spied_claim)

    async def scenario() -> str:
        stop = asyncio.Event()
        runner = asyncio.create_task(tasks.run(stop))
        assert await asyncio.to_thread(idle.wait, POLL / 2), "the worker never claimed"
        with database.session() as session:  # connecting queues the repository's first analysis
            repo_id = flows.connect(session, organization_id=tenant.organization_id, url=str(repo.path)).id
            analysis = jobs.enqueue(
                session, organization_id=tenant.organization_id, repository_id=repo_id, trigger="api"
            )
        deadline = time.monotonic() + POLL / 2
        status = "queued"
        while time.monotonic() < deadline and status in ("queued", "running"):
            await asyncio.sleep(0.05)
            with database.session() as session:
                status = jobs.get(session, organization_id=tenant.organization_id, analysis_id=analysis.id).status
        stop.set()
        await runner
        return status

    status = run_async(scenario)
    assert status == "succeeded", f"still {status} half a poll interval after it was queued: the worker was not woken"


def test_scheduled_recheck_queues_due_repositories(
    database: Database, tenant: Tenant, tmp_path: Path, clock: Clock
) -> None:
    settings.configure(database_url=database.url, data_dir=tmp_path / "data", analysis_recheck_interval=3600)
    repo = Repo(tmp_path / "r")
    repo.commit(ALICE, "2026-02-01T10:00:00Z", {"a.txt": lines(2)})
    from gitproductivity.repositories import flows

    with database.session() as session:
        flows.connect(session, organization_id=tenant.organization_id, url=str(repo.path))
    with database.session() as session:
        assert jobs.schedule_rechecks(session) == 0  # one is already queued
    drain()
    with database.session() as session:
        assert jobs.schedule_rechecks(session) == 0  # just analysed
    clock.advance(3599)
    with database.session() as session:
        assert jobs.schedule_rechecks(session) == 0  # not yet due
    clock.advance(1)
    with database.session() as session:
        assert jobs.schedule_rechecks(session) == 1  # analysed one interval ago: due
    with database.session() as session:
        assert jobs.schedule_rechecks(session) == 0  # queued once
    assert drain() == ["succeeded"]


def test_analyses_of_other_organisations_are_404(
    api: TestClient, client: TestClient, other_tenant: Tenant, tmp_path: Path
) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit(ALICE, "2026-02-01T10:00:00Z", {"a.txt": lines(2)})
    repo_id = api.post("/v1/repositories", json={"url": str(repo.path)}).json()["id"]
    analysis_id = latest(api, repo_id)["id"]
    other = other_tenant.headers
    assert client.get(f"/v1/analyses/{analysis_id}", headers=other).status_code == 404
    assert client.post(f"/v1/repositories/{repo_id}/analyses", headers=other).status_code == 404
    assert client.get("/v1/metrics/developers", params={"repository_id": repo_id}, headers=other).status_code == 404
    api.delete(f"/v1/repositories/{repo_id}")
    refused = api.post(f"/v1/repositories/{repo_id}/analyses")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "conflict"


def test_another_branch_when_asked(api: TestClient, tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit(ALICE, "2026-02-01T10:00:00Z", {"a.txt": lines(2)})
    repo.git("checkout", "-q", "-b", "develop")
    repo.commit(BOB, "2026-02-02T10:00:00Z", {"b.txt": lines(3)})
    repo.git("checkout", "-q", "main")
    bad = api.post("/v1/repositories", json={"url": str(repo.path), "branch": "--upload-pack=evil"})
    assert bad.status_code == 422
    created = api.post("/v1/repositories", json={"url": str(repo.path), "branch": "develop"}).json()
    assert created["branch"] == "develop"
    drain()
    assert team(api) == {"alice@example.com": (1, 0, 2, 0, 1, 1), "bob@example.com": (1, 0, 3, 0, 1, 1)}
    shown = api.get(f"/v1/repositories/{created['id']}").json()
    assert shown["last_commit"] == repo.git("rev-parse", "develop") and shown["last_analysed_at"] is not None


def test_job_of_a_disconnected_repository_fails_cleanly(api: TestClient, tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit(ALICE, "2026-02-01T10:00:00Z", {"a.txt": lines(2)})
    repo_id = api.post("/v1/repositories", json={"url": str(repo.path)}).json()["id"]
    api.delete(f"/v1/repositories/{repo_id}")
    assert drain() == ["failed"]
    assert "disconnected" in latest(api, repo_id)["error"]
    assert events(api, "metrics.updated") == []


@pytest.mark.parametrize("backend", ["postgresql"])  # SQLite serialises whole transactions: nothing to skip
def test_postgres_workers_claim_different_jobs(database: Database, tenant: Tenant, tmp_path: Path) -> None:
    """FOR UPDATE SKIP LOCKED: while one worker's claim transaction is open, another takes the next job."""
    from gitproductivity.repositories import flows

    for name in ("one", "two"):
        repo = Repo(tmp_path / name)
        repo.commit(ALICE, "2026-02-01T10:00:00Z", {"a.txt": lines(2)})
        with database.session() as session:
            flows.connect(session, organization_id=tenant.organization_id, url=str(repo.path))
    with database.session() as first:
        mine = jobs.claim(first, worker="w1", limit=1)
        with database.session() as second:
            theirs = jobs.claim(second, worker="w2", limit=1)
        assert len(mine) == len(theirs) == 1 and mine[0].id != theirs[0].id
    assert sorted(drain()) == []  # both are running under live leases: nothing left to claim


def test_remote_repository_is_cloned_then_fetched(api: TestClient, tmp_path: Path, database_url: str) -> None:
    """A remote is mirrored bare into the data dir. file:// stands in for https:// (network stays on this host)."""
    settings.configure(database_url=database_url, data_dir=tmp_path / "data", git_allowed_protocols=("file",))
    origin = Repo(tmp_path / "origin")
    origin.commit(ALICE, "2026-02-01T10:00:00Z", {"a.txt": lines(2)})
    repo_id = api.post("/v1/repositories", json={"url": str(origin.path)}).json()["id"]
    with api_db_session() as session:
        from gitproductivity.repositories.models import Repository

        row = session.get(Repository, repo_id)
        assert row is not None
        row.kind, row.url = "remote", f"file://{origin.path}"
    drain()
    mirror = tmp_path / "data" / "repositories" / f"{repo_id}.git"
    assert (mirror / "HEAD").is_file() and not (mirror / ".git").exists()
    assert team(api) == {"alice@example.com": (1, 0, 2, 0, 1, 1)}
    origin.commit(BOB, "2026-02-02T10:00:00Z", {"b.txt": lines(3)})
    api.post(f"/v1/repositories/{repo_id}/analyses")
    drain()
    run = latest(api, repo_id)
    assert (run["mode"], run["commits_analysed"], run["head_commit"]) == ("incremental", 1, origin.head())
    assert run["fetch_ms"] is not None
    assert team(api)["bob@example.com"] == (1, 0, 3, 0, 1, 1)


@pytest.mark.parametrize("backend", ["postgresql"])  # SQLite has one process; the worker test covers its wake-up
def test_postgres_notify_wakes_a_worker_for_jobs_queued_elsewhere(
    database: Database, tenant: Tenant, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job queued by another process reaches an idle worker through NOTIFY, long before its next poll."""
    import asyncio
    import subprocess
    import sys

    from gitproductivity.analysis import tasks
    from gitproductivity.repositories import flows

    settings.configure(database_url=database.url, data_dir=tmp_path / "data", analysis_poll_interval=POLL)
    repo = Repo(tmp_path / "r")
    repo.commit(ALICE, "2026-02-01T10:00:00Z", {"a.txt": lines(2)})
    with database.session() as session:
        repo_id = flows.connect(session, organization_id=tenant.organization_id, url=str(repo.path)).id
    drain()
    repo.commit(BOB, "2026-02-02T10:00:00Z", {"b.txt": lines(1)})
    script = (
        "import gitproductivity.models; from gitproductivity.core import settings;"
        "from gitproductivity.core.db import get_database;"
        "from gitproductivity.analysis import jobs;"
        f"settings.configure(database_url={database_url!r});"
        "s = get_database().session().__enter__();"
        f"a = jobs.enqueue(s, organization_id={tenant.organization_id!r}, repository_id={repo_id!r}, trigger='api');"
        "s.commit(); print(a.id)"
    )

    # Ready when a claim that began with the worker's LISTEN in place has found nothing: the worker then waits
    # for a wake-up or its next poll, a minute away.
    listeners_before = listeners(database)
    ready = threading.Event()
    real_claim = tasks._claim

    def spied_claim(worker: str, free: int) -> list[str]:
        was_listening = listeners(database) > listeners_before
        found = real_claim(worker, free)
        if was_listening and not found:
            ready.set()
        return found

    monkeypatch.setattr(tasks, "_claim", spied_claim)

    async def scenario() -> str:
        stop = asyncio.Event()
        runner = asyncio.create_task(tasks.run(stop))
        assert await asyncio.to_thread(ready.wait, POLL / 2), "the worker never listened and waited"
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", script, stdout=subprocess.PIPE)
        out, _ = await proc.communicate()
        analysis_id = out.decode().strip()
        deadline = time.monotonic() + POLL / 2  # long before its next poll: only the NOTIFY can have woken it
        status = "queued"
        while time.monotonic() < deadline and status != "succeeded":
            await asyncio.sleep(0.1)
            with database.session() as session:
                status = jobs.get(session, organization_id=tenant.organization_id, analysis_id=analysis_id).status
        stop.set()
        await runner
        return status

    status = run_async(scenario)
    assert status == "succeeded", f"still {status} half a poll interval after the NOTIFY: the worker was not woken"


def test_an_unexpected_failure_is_reported_in_words(
    api: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not `RuntimeError: …`: the class and text of an unexpected error are internals, kept for the server log."""
    repo = Repo(tmp_path / "r")
    repo.commit(ALICE, "2026-02-01T10:00:00Z", {"a.txt": lines(1)})
    repo_id = api.post("/v1/repositories", json={"url": str(repo.path)}).json()["id"]

    def broken(*_args: object) -> None:
        raise RuntimeError("internal detail: table x has no column y")

    monkeypatch.setattr(run, "_analyse", broken)
    assert drain() == ["failed"]
    failed = latest(api, repo_id)
    assert failed["error"] == "the analysis stopped on an unexpected error; the details are in the server log"
    [complete] = events(api, "analysis.complete")
    assert complete["error"] == failed["error"]
    assert all("RuntimeError" not in n["body"] for n in api.get("/v1/notifications").json()["data"])
