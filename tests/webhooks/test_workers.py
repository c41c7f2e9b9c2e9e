"""Real `gitproductivity worker` processes: several share PostgreSQL without sending an attempt twice, one
killed mid-delivery loses nothing, and SIGTERM stops them cleanly. Several dispatchers, each with its own
connections, split a backlog between them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from gitproductivity.core.db import Database
from gitproductivity.core.settings import Settings
from gitproductivity.events import service as events
from gitproductivity.events.payloads import DeveloperAdded, MetricsUpdated
from gitproductivity.webhooks import dispatcher as dispatcher_module
from gitproductivity.webhooks import endpoints
from gitproductivity.webhooks.client import TlsIdentity
from gitproductivity.webhooks.models import Delivery, DeliveryAttempt
from gitproductivity.webhooks.sender import HttpSender, Outcome
from tests.conftest import Tenant
from tests.webhooks.conftest import Receiver, RunningDispatcher, configure, wait_for

pytestmark = pytest.mark.slow  # real `gitproductivity worker` processes, killed and stopped

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
        codes: list[int | None] = []
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
        return endpoints.create(session, organization_id=tenant.organization_id, url=url, events=["*"]).id


@pytest.mark.parametrize("backend", ["postgresql"])  # several worker processes share work through PostgreSQL
def test_many_workers_on_postgres_never_send_an_attempt_twice(
    backend: str, database: Database, tenant: Tenant, receiver: Receiver, workers: Workers
) -> None:
    hook_id = make_hook(database, tenant, receiver.url("/ok"))
    for _ in range(3):
        workers.start()
    # So that SIGTERM at the end finds each one's signal handler installed (else it exits with -15).
    wait_for(
        lambda: all(
            "webhook dispatcher started" in (workers.tmp_path / f"worker-{n}.log").read_text() for n in range(3)
        ),
        timeout=60,
        what="three workers to start",
    )
    total = 0
    for batch in range(20):
        with database.session() as session:
            for _n in range(15):
                events.emit(session, organization_id=tenant.organization_id, data=MetricsUpdated.example)
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
    hook_id = make_hook(database, tenant, receiver.url("/hold-once"))  # the first POST is held until released
    with database.session() as session:
        secret = endpoints.get(session, organization_id=tenant.organization_id, webhook_id=hook_id).secret
    first = workers.start()
    # Killed by the receiver itself on getting the POST, before answering it: the kill lands mid-delivery, always
    # (the worker's own timeout cannot have run out first, however slow the machine).
    receiver.on_hold = lambda: first.send_signal(signal.SIGKILL)
    with database.session() as session:
        event = events.emit(session, organization_id=tenant.organization_id, data=DeveloperAdded.example)
    wait_for(lambda: receiver.on("/hold-once"), timeout=30, what="the first POST")
    first.wait(10)
    receiver.released.set()
    workers.start()

    def delivered() -> Delivery | None:
        with database.session() as session:
            return session.scalar(
                select(Delivery).where(Delivery.webhook_id == hook_id, Delivery.status == "succeeded")
            )

    done = wait_for(delivered, timeout=30, what="redelivery after the lease ran out")
    got = receiver.on("/hold-once")
    assert len(got) == 2
    assert {r.headers["X-GitProductivity-Delivery"] for r in got} == {done.id}
    assert {r.headers["webhook-id"] for r in got} == {event.id}  # receivers dedupe on this
    with database.session() as session:
        attempts = session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == done.id)).all()
    assert [(a.number, a.response_status) for a in attempts] == [(1, 200)]
    assert workers.stop_all()[1:] == [0]
    assert secret not in workers.logs() and "Traceback" not in workers.logs()


class TaggedSender(HttpSender):
    """The real sender, plus a header naming the dispatcher thread that sends (the receiver counts per worker)."""

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        self.tag = threading.current_thread().name

    async def post(self, url: str, body: bytes, headers: dict[str, str], *, tls: TlsIdentity | None = None) -> Outcome:
        return await super().post(url, body, {**headers, "X-Test-Worker": self.tag}, tls=tls)


@pytest.mark.parametrize("backend", ["postgresql"])  # dispatchers with their own connections share PostgreSQL
def test_several_dispatchers_split_the_work(
    backend: str,
    database: Database,
    database_url: str,
    tenant: Tenant,
    receiver: Receiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each dispatcher holds at most 4 + 2 * 2 deliveries and sends 4 at a time; a POST takes 0.3 s. A dispatcher
    # can therefore not take the whole backlog at once, and every one of them gets a share however the machine
    # schedules their threads. The timeout is generous so a slow answer is never retried (that would be a resend).
    configure(
        database_url,
        tmp_path,
        webhook_concurrency=4,
        webhook_batch_size=2,
        webhook_timeout=10.0,
        webhook_lease_seconds=30.0,
    )
    receiver.slow_seconds = 0.3
    monkeypatch.setattr(dispatcher_module, "HttpSender", TaggedSender)
    hook_id = make_hook(database, tenant, receiver.url("/slow"))
    databases = [Database(database_url) for _ in range(3)]  # own pools, own connections, own LISTEN
    running = [RunningDispatcher(db) for db in databases]
    try:
        wait_for(lambda: listeners(database) >= 3, timeout=30, what="three dispatchers listening")
        total = 90
        with database.session() as session:  # one commit: all dispatchers are woken by the same NOTIFY
            for _n in range(total):
                events.emit(session, organization_id=tenant.organization_id, data=MetricsUpdated.example)
        wait_for(lambda: len(receiver.requests) >= total, timeout=60, what=f"{total} deliveries")

        def all_done() -> bool:
            with database.session() as session:
                states = session.scalars(select(Delivery.status).where(Delivery.webhook_id == hook_id)).all()
            return len(states) == total and set(states) == {"succeeded"}

        wait_for(all_done, timeout=30, what="all deliveries recorded")
    finally:
        for r in running:
            r.stop()
        for db in databases:
            db.dispose()
    per_delivery = Counter(r.headers["X-GitProductivity-Delivery"] for r in receiver.requests)
    assert len(per_delivery) == total and set(per_delivery.values()) == {1}
    per_worker = Counter(r.headers["X-Test-Worker"] for r in receiver.requests)
    assert set(per_worker) == {r.thread.name for r in running}
    assert min(per_worker.values()) > total // 10, per_worker  # every worker did a substantial share
    with database.session() as session:
        numbers = session.scalars(select(DeliveryAttempt.number)).all()
    assert sorted(numbers) == [1] * total


def listeners(database: Database) -> int:
    """Connections of this database that have run LISTEN (each dispatcher's wake-up connection)."""
    with database.session() as session:
        return int(
            session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'"
                )
            )
            or 0
        )


@pytest.mark.parametrize("backend", ["postgresql"])  # two worker processes share the work through PostgreSQL
def test_workers_killed_again_and_again_lose_nothing(
    backend: str, database: Database, tenant: Tenant, receiver: Receiver, workers: Workers
) -> None:
    """A small benchmarks/faults.py worker-crash: 1,000 events, two workers, one SIGKILLed (in turn) twice."""
    make_hook(database, tenant, receiver.url("/ok"))
    # A lease far longer than the test: the killed worker's deliveries come back through dead-worker pruning
    # (its pid is gone when the next worker registers), and a live worker slowed by a loaded machine never
    # loses a claim to an expired lease, the one other way a POST is sent twice.
    workers.env["GITPRODUCTIVITY_WEBHOOK_LEASE_SECONDS"] = "120"
    # And a timeout no stall of the receiver (a thread of this loaded test process) outlasts: a POST that times
    # out is a second attempt, by design, and what it sent a duplicate this test could not tell from a bug.
    workers.env["GITPRODUCTIVITY_WEBHOOK_TIMEOUT"] = "10"

    def started(proc: subprocess.Popen[str]) -> subprocess.Popen[str]:
        log = workers.tmp_path / f"worker-{workers.procs.index(proc)}.log"
        wait_for(lambda: "webhook dispatcher started" in log.read_text(), timeout=60, what="a worker to start")
        return proc

    running = [started(workers.start()), started(workers.start())]
    emitted: list[str] = []
    in_flight = 0
    for kill in range(2):
        with database.session() as session:
            for _n in range(500):
                emitted.append(
                    events.emit(session, organization_id=tenant.organization_id, data=MetricsUpdated.example).id
                )
        wait_for(lambda: len(receiver.requests) >= len(emitted) - 400, timeout=30, what="deliveries under way")
        running[kill].send_signal(signal.SIGKILL)
        running[kill].wait(10)
        # Answered but not recorded: the only POSTs that can be sent again (the dead worker's among them).
        got = {r.headers["webhook-id"] for r in list(receiver.requests)}
        with database.session() as session:
            sent = set(session.scalars(select(Delivery.event_id).where(Delivery.status == "succeeded")))
        in_flight += len(got - sent)
        running[kill] = workers.start()  # the next kill is of the other, long-running worker

    def all_sent() -> bool:
        with database.session() as session:
            states = Counter(session.scalars(select(Delivery.status)))
        return states == Counter({"succeeded": len(emitted)})

    wait_for(all_sent, timeout=60, what="every delivery recorded")
    for proc in running:
        started(proc)  # so that SIGTERM finds its handler installed
    received = Counter(r.headers["webhook-id"] for r in receiver.requests)
    assert set(received) == set(emitted)  # nothing lost
    duplicates = sum(received.values()) - len(received)
    assert duplicates <= in_flight
    with database.session() as session:
        numbers = Counter(session.scalars(select(DeliveryAttempt.number)))
        failures = Counter(
            session.execute(
                select(DeliveryAttempt.error_kind, DeliveryAttempt.response_status, DeliveryAttempt.error).where(
                    DeliveryAttempt.error_kind.is_not(None) | (DeliveryAttempt.response_status >= 300)
                )
            ).all()
        )
    # A POST whose outcome died with its worker is not logged; the failures show what made a second attempt.
    assert numbers == Counter({1: len(emitted)}), (failures.most_common(5), workers.logs()[-3000:])
    assert workers.stop_all()[-2:] == [0, 0], workers.logs()
