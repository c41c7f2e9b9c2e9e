"""Real `gitproductivity worker` processes: several share PostgreSQL without sending an attempt twice, one
killed mid-delivery loses nothing, and SIGTERM stops them cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from gitproductivity.core.db import Database
from gitproductivity.core.settings import Settings
from gitproductivity.events import service as events
from gitproductivity.webhooks import service
from gitproductivity.webhooks.models import Delivery, DeliveryAttempt
from tests.conftest import Tenant
from tests.webhooks.conftest import Receiver, wait_for

EXE = str(Path(sys.executable).with_name("gitproductivity"))


class Workers:
    def __init__(self, database_url: str, tmp_path: Path, **env: str) -> None:
        self.procs: list[subprocess.Popen[str]] = []
        self.env = {
            **os.environ,
            "GITPRODUCTIVITY_DATABASE_URL": database_url,
            "GITPRODUCTIVITY_DATA_DIR": str(tmp_path / "data"),
            "GITPRODUCTIVITY_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            "GITPRODUCTIVITY_LOG_LEVEL": "INFO",
            **env,
        }
        self.tmp_path = tmp_path

    def start(self) -> subprocess.Popen[str]:
        log = open(self.tmp_path / f"worker-{len(self.procs)}.log", "w")  # noqa: SIM115 (closed with the process)
        proc = subprocess.Popen([EXE, "worker"], env=self.env, stdout=log, stderr=subprocess.STDOUT, text=True)
        self.procs.append(proc)
        return proc

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.tmp_path.glob("worker-*.log")))

    def stop_all(self) -> list[int | None]:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes = []
        for proc in self.procs:
            try:
                codes.append(proc.wait(timeout=20))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                codes.append(None)
        return codes


@pytest.fixture
def workers(fast: Settings, database: Database, database_url: str, tmp_path: Path) -> Iterator[Workers]:
    w = Workers(database_url, tmp_path, GITPRODUCTIVITY_WEBHOOK_TIMEOUT="1", GITPRODUCTIVITY_WEBHOOK_LEASE_SECONDS="2")
    yield w
    w.stop_all()


def make_hook(database: Database, tenant: Tenant, url: str) -> str:
    with database.session() as session:
        return service.create(session, organization_id=tenant.organization_id, url=url, events=["*"]).id


@pytest.mark.parametrize("backend", ["postgresql"])  # several worker processes share work through PostgreSQL
def test_many_workers_on_postgres_never_send_an_attempt_twice(
    backend: str, database: Database, tenant: Tenant, receiver: Receiver, workers: Workers
) -> None:
    hook_id = make_hook(database, tenant, receiver.url("/ok"))
    for _ in range(3):
        workers.start()
    total = 0
    for batch in range(20):
        with database.session() as session:
            for n in range(15):
                events.emit(session, organization_id=tenant.organization_id, type="metrics.updated", data={"n": n})
                total += 1
        del batch
    wait_for(lambda: len(receiver.requests) >= total, timeout=60, what=f"{total} deliveries")

    def all_done() -> bool:
        with database.session() as session:
            states = session.scalars(select(Delivery.status).where(Delivery.webhook_id == hook_id)).all()
        return len(states) == total and set(states) == {"succeeded"}

    try:
        wait_for(all_done, timeout=30, what="all deliveries recorded")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the workers' logs:\n{workers.logs()}") from None
    assert workers.stop_all() == [0, 0, 0], workers.logs()
    per_delivery = Counter(r.headers["X-GitProductivity-Delivery"] for r in receiver.requests)
    assert len(per_delivery) == total and set(per_delivery.values()) == {1}
    with database.session() as session:
        numbers = session.execute(select(DeliveryAttempt.delivery_id, DeliveryAttempt.number)).all()
    assert len(numbers) == total and {n for _, n in numbers} == {1}
    assert "Traceback" not in workers.logs()


def test_worker_killed_mid_delivery_loses_nothing(
    database: Database, tenant: Tenant, receiver: Receiver, workers: Workers
) -> None:
    receiver.hang_seconds = 0.8  # the first POST is still in flight when its worker dies
    hook_id = make_hook(database, tenant, receiver.url("/hang-once"))
    with database.session() as session:
        secret = service.get(session, organization_id=tenant.organization_id, webhook_id=hook_id).secret
    first = workers.start()
    with database.session() as session:
        event = events.emit(session, organization_id=tenant.organization_id, type="developer.added", data={"a": 1})
    wait_for(lambda: receiver.on("/hang-once"), timeout=30, what="the first POST")
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    workers.start()

    def delivered() -> Delivery | None:
        with database.session() as session:
            return session.scalar(
                select(Delivery).where(Delivery.webhook_id == hook_id, Delivery.status == "succeeded")
            )

    done = wait_for(delivered, timeout=30, what="redelivery after the lease ran out")
    got = receiver.on("/hang-once")
    assert len(got) == 2
    assert {r.headers["X-GitProductivity-Delivery"] for r in got} == {done.id}
    assert {r.headers["webhook-id"] for r in got} == {event.id}  # receivers dedupe on this
    with database.session() as session:
        attempts = session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == done.id)).all()
    assert [(a.number, a.response_status) for a in attempts] == [(1, 200)]
    assert workers.stop_all()[1:] == [0]
    assert secret not in workers.logs() and "Traceback" not in workers.logs()
