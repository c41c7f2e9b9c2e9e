"""Worker liveness (core.workers): pruning a dead worker hands back its claimed deliveries and analyses at once;
a live one keeps them. The processes whose pids are checked are real (exited and running children)."""

from __future__ import annotations

import os
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import select, update

from gitproductivity.analysis import jobs
from gitproductivity.analysis.models import Analysis
from gitproductivity.core import settings, workers
from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import Database
from gitproductivity.core.workers import Worker
from gitproductivity.events import service as events
from gitproductivity.events.payloads import MetricsUpdated
from gitproductivity.repositories import flows
from gitproductivity.webhooks import endpoints, queue
from gitproductivity.webhooks.models import Delivery
from tests.conftest import Tenant
from tests.webhooks.conftest import configure

STALL = 15.0


def register(database: Database, **values: object) -> str:
    with database.session() as session:
        worker_id = workers.register(session, role="dispatcher")
        if values:
            session.execute(update(Worker).where(Worker.id == worker_id).values(**values))
    return worker_id


def prune(database: Database, me: str | None = None) -> dict[str, int]:
    with database.session() as session:
        return workers.prune(session, stall_after=STALL, me=me)


def alive(database: Database) -> set[str]:
    with database.session() as session:
        return set(session.scalars(select(Worker.id)))


def exited_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()  # reaped: the pid is free
    return proc.pid


@pytest.fixture
def deliveries(database: Database, database_url: str, tenant: Tenant, tmp_path: Path) -> int:
    configure(database_url, tmp_path)
    with database.session() as session:
        endpoints.create(session, organization_id=tenant.organization_id, url="http://127.0.0.1:9/hook", events=["*"])
    with database.session() as session:
        for _ in range(6):
            events.emit(session, organization_id=tenant.organization_id, data=MetricsUpdated.example)
    return 6


def claim(database: Database, worker_id: str, limit: int) -> list[queue.Job]:
    with database.session() as session:
        return queue.claim(session, limit=limit, lease_seconds=90.0, worker_id=worker_id)


def test_a_worker_without_heartbeat_is_pruned_and_its_deliveries_are_due_at_once(
    database: Database, deliveries: int
) -> None:
    dead = register(database, last_heartbeat_at=utcnow() - timedelta(seconds=STALL + 1))
    live = register(database, last_heartbeat_at=utcnow() - timedelta(seconds=STALL - 5))
    held_dead = {j.delivery_id for j in claim(database, dead, 4)}
    held_live = {j.delivery_id for j in claim(database, live, 2)}
    assert len(held_dead) == 4 and len(held_live) == 2

    assert prune(database) == {"deliveries": 4, "analyses": 0}

    assert alive(database) == {live}
    with database.session() as session:
        rows = {d.id: d for d in session.scalars(select(Delivery))}
    now = utcnow()
    for delivery_id in held_dead:  # due now, under no lease: any worker's next claim takes them
        row = rows[delivery_id]
        assert row.next_attempt_at is not None and row.next_attempt_at <= now
        assert row.lease_token is None and row.worker_id is None and row.attempts == 0
    for delivery_id in held_live:
        assert rows[delivery_id].next_attempt_at > now + timedelta(seconds=60)  # type: ignore[operator]
        assert rows[delivery_id].worker_id == live
    retaken = claim(database, live, 10)
    assert {j.delivery_id for j in retaken} == held_dead
    assert prune(database) == {}  # nothing more to prune


def test_on_this_host_a_worker_whose_process_is_gone_is_pruned_before_its_heartbeat_is_late(
    database: Database, deliveries: int
) -> None:
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        gone = register(database, pid=exited_pid())
        running = register(database, pid=sleeper.pid)
        elsewhere = register(database, pid=exited_pid(), pid_scope="another-host/pid:[1]")
        mine = register(database)  # this process: alive
        held = {j.delivery_id for j in claim(database, gone, 3)}
        assert prune(database)["deliveries"] == 3
        # A pid is only checked where it means something: another host's row waits for its heartbeat to age.
        assert alive(database) == {running, elsewhere, mine}
        assert {j.delivery_id for j in claim(database, mine, 10)} >= held
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_killed_and_unreaped_process_counts_as_gone(database: Database, deliveries: int) -> None:
    zombie = subprocess.Popen(["sleep", "60"])
    try:
        zombie.kill()
        os.waitid(os.P_PID, zombie.pid, os.WEXITED | os.WNOWAIT)  # dead, not reaped: a zombie holds the pid
        assert workers.process_gone(zombie.pid)
        register(database, pid=zombie.pid)
        prune(database)
        assert alive(database) == set()
    finally:
        zombie.wait()


def test_an_earlier_process_with_this_process_s_pid_is_a_dead_predecessor(database: Database, deliveries: int) -> None:
    """In a restarted container the new `serve` may get the old one's pid (pid 1): same pid, registered before
    this process started, so not this process."""
    before = register(database, started_at=workers.PROCESS_STARTED - timedelta(seconds=1))
    held = {j.delivery_id for j in claim(database, before, 2)}
    mine = register(database)
    assert prune(database, me=mine)["deliveries"] == 2
    assert alive(database) == {mine}
    assert {j.delivery_id for j in claim(database, mine, 10)} >= held


def test_a_dead_worker_s_analysis_is_taken_again_at_once(
    database: Database, database_url: str, tenant: Tenant, git_repo: Path, tmp_path: Path
) -> None:
    configure(database_url, tmp_path)
    with database.session() as session:
        repo_id = flows.connect(session, organization_id=tenant.organization_id, url=str(git_repo)).id
    dead = register(database, pid=exited_pid())
    with database.session() as session:
        [job] = jobs.claim(session, worker=dead)
        job_id = job.id
    with database.session() as session:
        assert jobs.claim(session, worker="other") == []  # leased for 300 s: nobody may take it
    assert prune(database) == {"deliveries": 0, "analyses": 1}
    with database.session() as session:
        [again] = jobs.claim(session, worker="other")
        assert (again.id, again.repository_id, again.attempts, again.worker) == (job_id, repo_id, 2, "other")


def test_a_live_worker_keeps_its_analysis(
    database: Database, database_url: str, tenant: Tenant, git_repo: Path, tmp_path: Path
) -> None:
    configure(database_url, tmp_path)
    with database.session() as session:
        flows.connect(session, organization_id=tenant.organization_id, url=str(git_repo))
    live = register(database)
    with database.session() as session:
        [job] = jobs.claim(session, worker=live)
    assert prune(database) == {}
    with database.session() as session:
        assert jobs.claim(session, worker="other") == []
        row = session.get(Analysis, job.id)
        assert row is not None and row.worker == live


def test_a_registration_presumed_dead_registers_again_and_drops_what_it_held(
    database: Database, database_url: str, tmp_path: Path, deliveries: int
) -> None:
    configure(database_url, tmp_path, worker_heartbeat_interval=60.0, worker_stall_after=120.0)
    me = workers.Registration(database, role="dispatcher")
    me.start()
    try:
        first = me.id
        assert first is not None and alive(database) == {first} and me.holds(first) and me.holds(None)
        held = claim(database, first, 2)
        with database.session() as session:  # another worker found our heartbeat too old
            session.execute(update(Worker).values(last_heartbeat_at=utcnow() - timedelta(seconds=121)))
        register_other = register(database)
        with database.session() as session:
            assert workers.prune(session, stall_after=120.0, me=register_other)["deliveries"] == 2
        me._tick()  # our next beat finds the row gone
        assert me.id not in (None, first) and alive(database) == {me.id, register_other}
        assert not any(me.holds(job.worker_id) for job in held)  # handed to others: never sent from here
    finally:
        me.stop()
    assert alive(database) == {register_other}  # a clean stop deregisters


def test_a_worker_held_up_with_the_others_judges_no_one_dead(
    database: Database, database_url: str, tmp_path: Path, deliveries: int
) -> None:
    """A long write (SQLite's one writer lock, a failover) delays every heartbeat alike: the first worker to get
    through must not prune the others for beats it could not write either. One whose own beats flowed does."""
    configure(database_url, tmp_path, worker_heartbeat_interval=60.0, worker_stall_after=120.0)
    me = workers.Registration(database, role="dispatcher")
    me.start()
    try:
        other = register(database, last_heartbeat_at=utcnow() - timedelta(seconds=250))
        held = claim(database, other, 2)
        me._beat_started = time.monotonic() - 200  # our own previous beat was held up 200 s too
        me._tick()
        assert other in alive(database)
        me._beat_started = time.monotonic() - 60  # our beats flowed; the other's did not
        me._tick()
        assert other not in alive(database)
        assert {j.delivery_id for j in claim(database, me.id or "", 10)} >= {j.delivery_id for j in held}
    finally:
        me.stop()


def test_pruning_without_release_hooks_is_refused(monkeypatch: pytest.MonkeyPatch, database: Database) -> None:
    monkeypatch.setattr(workers, "_hooks", {})
    with pytest.raises(RuntimeError, match=r"startup\.install"), database.session() as session:
        workers.prune(session, stall_after=STALL)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"worker_heartbeat_interval": "0"}, "between 0.05 and 86400"),
        # Every float setting refuses inf and nan before its own range is checked (core.settings).
        ({"worker_heartbeat_interval": "inf"}, "finite number"),
        ({"worker_stall_after": "nan"}, "finite number"),
        ({"worker_stall_after": "1e20"}, "between 0.05 and 86400"),
        ({"worker_heartbeat_interval": "5", "worker_stall_after": "9"}, "at least twice"),
    ],
)
def test_liveness_settings_are_bounded(values: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in values.items():
        monkeypatch.setenv(f"GITPRODUCTIVITY_{name.upper()}", value)
    with pytest.raises(ValidationError, match=message):
        settings.Settings()
