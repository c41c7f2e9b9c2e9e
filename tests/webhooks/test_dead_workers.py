"""Dead-worker detection with real processes: what a SIGKILLed `serve` or `worker` held is retaken at once by the
next one to start (not after the 90 s lease); a frozen worker (SIGSTOP, its heartbeat stalled) is presumed dead and
its deliveries go to a live worker, and when it wakes it records nothing twice; a live worker whose POSTs outlast
the stall threshold keeps every claim."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import func, select

from gitproductivity.core.db import Database
from gitproductivity.core.workers import Worker
from gitproductivity.events import service as events
from gitproductivity.events.payloads import MetricsUpdated
from gitproductivity.webhooks import endpoints
from gitproductivity.webhooks.models import Delivery, DeliveryAttempt
from tests.conftest import Tenant, inherited_env, wait_until_serving
from tests.netutil import listening_socket, port_of
from tests.webhooks.conftest import Receiver, configure, wait_for

pytestmark = pytest.mark.slow  # SIGKILLs and SIGSTOPs real `serve` and `worker` processes

EXE = str(Path(sys.executable).with_name("gitproductivity"))
LEASE = 90.0  # the default lease: what a restart waited for before dead workers were detected


@dataclass
class BlockingReceiver(Receiver):
    """`/block-first`: the first POST of each delivery hangs until `released` is set; any later one gets 200."""

    released: threading.Event = field(default_factory=threading.Event)
    holding: int = 0

    async def answer(self, request: web.Request, body: bytes) -> web.StreamResponse:
        if request.path != "/block-first":
            return await super().answer(request, body)
        delivery = request.headers["X-GitProductivity-Delivery"]
        # `handle` recorded this request already: the first of its delivery is the only one on record
        first = sum(r.headers["X-GitProductivity-Delivery"] == delivery for r in self.on("/block-first")) == 1
        response = web.json_response({"received": True})
        self.holding += first
        try:
            while first and not self.released.is_set():
                await asyncio.sleep(0.05)
        finally:
            self.holding -= first
        return response


@pytest.fixture(autouse=True)
def _loopback_allowed(database: Database, database_url: str, tmp_path: Path) -> None:
    configure(database_url, tmp_path)  # this process creates endpoints on 127.0.0.1


@pytest.fixture
def blocking() -> Iterator[BlockingReceiver]:
    r = BlockingReceiver()
    r.start()
    yield r
    r.released.set()
    r.stop()


class Processes:
    def __init__(self, database_url: str, tmp_path: Path, **env: str) -> None:
        self.tmp_path = tmp_path
        self.env = {
            **inherited_env(),
            "GITPRODUCTIVITY_DATABASE_URL": database_url,
            "GITPRODUCTIVITY_DATA_DIR": str(tmp_path / "data"),
            "GITPRODUCTIVITY_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            "GITPRODUCTIVITY_ANALYSIS_RECHECK_INTERVAL": "0",
            **env,
        }
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *argv: str, pass_fds: tuple[int, ...] = ()) -> subprocess.Popen[bytes]:
        log = open(self.log_path(len(self.procs)), "wb")  # noqa: SIM115 (closed with the process)
        proc = subprocess.Popen([EXE, *argv], env=self.env, stdout=log, stderr=subprocess.STDOUT, pass_fds=pass_fds)
        self.procs.append(proc)
        return proc

    def log_path(self, n: int) -> Path:
        return self.tmp_path / f"proc-{n}.log"

    def log(self, proc: subprocess.Popen[bytes]) -> str:
        return self.log_path(self.procs.index(proc)).read_text(errors="replace")

    def logs(self) -> str:
        return "\n".join(self.log(p) for p in self.procs)

    def stop_all(self) -> list[int | None]:
        codes: list[int | None] = []
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                codes.append(proc.wait(timeout=30))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                codes.append(None)
        return codes


def make_hook(database: Database, tenant: Tenant, url: str) -> str:
    with database.session() as session:
        return endpoints.create(session, organization_id=tenant.organization_id, url=url, events=["*"]).id


def emit(database: Database, tenant: Tenant, count: int) -> list[str]:
    with database.session() as session:  # one commit
        return [
            events.emit(session, organization_id=tenant.organization_id, data=MetricsUpdated.example).id
            for _ in range(count)
        ]


def statuses(database: Database, hook_id: str) -> Counter[str]:
    with database.session() as session:
        return Counter(session.scalars(select(Delivery.status).where(Delivery.webhook_id == hook_id)))


def attempt_numbers(database: Database) -> Counter[tuple[str, int]]:
    with database.session() as session:
        rows = session.execute(select(DeliveryAttempt.delivery_id, DeliveryAttempt.number))
        return Counter((delivery_id, number) for delivery_id, number in rows)


def registered(database: Database) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(Worker)) or 0)


def freeze(proc: subprocess.Popen[bytes], database_url: str) -> None:
    """SIGSTOP the process at a moment it holds no SQLite write lock. A process frozen inside a write transaction
    holds the file's lock while it sleeps and every other writer waits for it (docs/reliability.md, "A frozen
    process on SQLite"); with a 0.3 s heartbeat a plain SIGSTOP lands in one now and then. On PostgreSQL its row
    locks block nobody else here: the others claim different rows."""
    for _ in range(50):
        proc.send_signal(signal.SIGSTOP)
        if not database_url.startswith("sqlite"):
            return
        probe = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=0.2)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.rollback()
            return
        except sqlite3.OperationalError:
            proc.send_signal(signal.SIGCONT)
            time.sleep(0.05)
        finally:
            probe.close()
    raise AssertionError("the process held the SQLite write lock at each of 50 tries")


def started(procs: Processes, proc: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
    wait_for(lambda: "webhook dispatcher started" in procs.log(proc), timeout=60, what="a worker to start")
    return proc


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_a_restarted_process_retakes_the_deliveries_a_killed_one_held_at_once(
    command: str, database: Database, database_url: str, tenant: Tenant, blocking: BlockingReceiver, tmp_path: Path
) -> None:
    """The default lease (90 s), timeout and heartbeat settings: only dead-worker detection can be quick here."""
    hook_id = make_hook(database, tenant, blocking.url("/block-first"))
    sock = listening_socket()  # serve's address, held here across the kill and the restart
    argv = (command, "--fd", str(sock.fileno())) if command == "serve" else (command,)
    procs = Processes(database_url, tmp_path)
    try:
        first = procs.start(*argv, pass_fds=(sock.fileno(),))
        if command == "serve":
            wait_until_serving(f"http://127.0.0.1:{port_of(sock)}", first, describe=procs.logs)  # type: ignore[arg-type]
        else:
            started(procs, first)
        emitted = emit(database, tenant, 10)
        wait_for(lambda: len(blocking.on("/block-first")) == 10, timeout=30, what="10 POSTs held by the first one")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        assert statuses(database, hook_id) == Counter({"pending": 10})  # claimed under a 90 s lease, unrecorded

        restarted = time.monotonic()
        second = procs.start(*argv, pass_fds=(sock.fileno(),))
        wait_for(
            lambda: statuses(database, hook_id) == Counter({"succeeded": 10}),
            timeout=LEASE / 3,
            what=f"every delivery retaken and sent; {procs.logs()}",
        )
        took = time.monotonic() - restarted
        print(f"\n{command}: all 10 held deliveries succeeded {took:.1f} s after the restart (lease {LEASE:.0f} s)")
        assert took < 20, took  # the restart (migrations, start-up) included; far under the lease
        assert "is gone" in procs.log(second)
    finally:
        blocking.released.set()
        codes = procs.stop_all()
        sock.close()
    assert codes[1] in (0, -signal.SIGTERM), procs.logs()
    got = Counter(r.headers["webhook-id"] for r in blocking.on("/block-first"))
    assert got == Counter({event_id: 2 for event_id in emitted})  # at-least-once: the dead one's POST, and ours
    numbers = attempt_numbers(database)
    assert len(numbers) == 10 and {n for _, n in numbers} == {1} and set(numbers.values()) == {1}
    assert registered(database) == 0  # the killed serve was pruned, the stopped one deregistered
    assert "Traceback" not in procs.log(second)


FAST_LIVENESS = {
    "GITPRODUCTIVITY_WORKER_HEARTBEAT_INTERVAL": "0.3",
    "GITPRODUCTIVITY_WORKER_STALL_AFTER": "1.5",
    "GITPRODUCTIVITY_WEBHOOK_TIMEOUT": "20",
    "GITPRODUCTIVITY_WEBHOOK_LEASE_SECONDS": "60",
}


def test_a_frozen_worker_is_presumed_dead_and_records_nothing_twice_when_it_wakes(
    database: Database, database_url: str, tenant: Tenant, blocking: BlockingReceiver, tmp_path: Path
) -> None:
    """A live process whose heartbeat stalls (SIGSTOP: alive, its pid present) is treated as dead after
    `worker_stall_after`; its claims go to a live worker. Woken, it registers again, and the outcomes of the POSTs
    it had in flight are refused by their lease tokens: one attempt recorded per delivery."""
    hook_id = make_hook(database, tenant, blocking.url("/block-first"))
    procs = Processes(database_url, tmp_path, **FAST_LIVENESS)
    try:
        frozen = started(procs, procs.start("worker", "--only", "dispatcher"))
        emitted = emit(database, tenant, 5)
        wait_for(lambda: len(blocking.on("/block-first")) == 5, timeout=30, what="5 POSTs held by the first worker")
        freeze(frozen, database_url)
        stopped = time.monotonic()
        live = started(procs, procs.start("worker", "--only", "dispatcher"))
        wait_for(
            lambda: statuses(database, hook_id) == Counter({"succeeded": 5}),
            timeout=20,
            what=f"the frozen worker's deliveries sent by the live one; {procs.logs()}",
        )
        took = time.monotonic() - stopped
        print(f"\nthe frozen worker's 5 deliveries succeeded {took:.1f} s after SIGSTOP (stall 1.5 s, lease 60 s)")
        assert took < 20  # the lease is 60 s
        assert "no heartbeat for" in procs.log(live)

        frozen.send_signal(signal.SIGCONT)
        wait_for(lambda: "was presumed dead" in procs.log(frozen), timeout=20, what="the woken worker to notice")
        blocking.released.set()  # its five POSTs now get their 200s; recording them must be refused
        wait_for(lambda: blocking.holding == 0, timeout=10, what="the held POSTs to end")
        # Their refused outcomes are recorded (or refused) by the time it stops: it drains before exiting (below).
        more = emit(database, tenant, 6)  # both workers work on, the woken one under its new id
        wait_for(
            lambda: statuses(database, hook_id) == Counter({"succeeded": 11}), timeout=30, what="the next deliveries"
        )
    finally:
        blocking.released.set()
        codes = procs.stop_all()
    assert codes == [0, 0], procs.logs()
    numbers = attempt_numbers(database)
    assert len(numbers) == 11 and {n for _, n in numbers} == {1} and set(numbers.values()) == {1}
    got = Counter(r.headers["webhook-id"] for r in blocking.on("/block-first"))
    assert got == Counter({**{e: 2 for e in emitted}, **{e: 1 for e in more}})
    assert registered(database) == 0
    assert "Traceback" not in procs.logs()


def test_a_live_worker_slower_than_the_stall_threshold_keeps_its_claims(
    database: Database, database_url: str, tenant: Tenant, receiver: Receiver, tmp_path: Path
) -> None:
    """Each POST takes 3 s, twice the stall threshold: the heartbeat beats from its own thread meanwhile, so the
    other worker prunes nobody and nothing is sent twice."""
    receiver.slow_seconds = 3.0
    hook_id = make_hook(database, tenant, receiver.url("/slow"))
    procs = Processes(database_url, tmp_path, **FAST_LIVENESS)
    try:
        for _ in range(2):
            started(procs, procs.start("worker", "--only", "dispatcher"))
        emit(database, tenant, 6)
        wait_for(
            lambda: statuses(database, hook_id) == Counter({"succeeded": 6}), timeout=40, what="six slow deliveries"
        )
    finally:
        codes = procs.stop_all()
    assert codes == [0, 0], procs.logs()
    sent = Counter(r.headers["X-GitProductivity-Delivery"] for r in receiver.on("/slow"))
    assert len(sent) == 6 and set(sent.values()) == {1}
    assert "is gone" not in procs.logs() and "presumed dead" not in procs.logs()
