"""Worker liveness: who holds claimed work, and handing back at once what a dead process held.

Every component that claims work (the webhook dispatcher, the analysis worker; in `serve` and in `gitproductivity
worker`) registers a row in `workers` and heartbeats it from a thread of its own, so a busy event loop or a slow
receiver never delays the beat. Claims record the claiming worker's id. On start and at every beat, a worker
prunes the rows of workers that are gone: no heartbeat for `worker_stall_after` seconds, or, where the pid can be
checked (the same kernel boot and pid namespace), a process that no longer exists or whose pid the pruner itself
now has. The claims of a pruned worker are released in the pruning transaction by the hooks the entry points
install (`startup.install`: deliveries, analyses), so a restart retakes them at once instead of after the lease.
The leases stay the fallback: a claim whose worker id was never registered, or whose pruner died, still falls due
when its lease runs out. Model: procrastinate's `procrastinate_workers` table and `prune_stalled_workers`.

A live worker keeps its claims as long as it heartbeats, however slow its work; and a pruner judges others' beats
only against its own (when the database held everyone's heartbeat up, none of them is presumed dead for it).
One whose heartbeat stalls past
`worker_stall_after` (the process frozen, its database connection hung) is presumed dead like procrastinate's: its
claims go to others, and when it wakes it finds its row gone, registers again under a new id and drops, unsent,
the work it had claimed under the old one (`Registration.holds`). Outcomes it was still sending are refused by
the lease tokens, so an attempt is recorded once; the receiver may see a POST twice (at-least-once).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Index, Integer, String, delete, insert, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import Base, Database
from gitproductivity.core.ids import new_id
from gitproductivity.core.settings import get_settings
from gitproductivity.core.types import UTCDateTime

log = logging.getLogger(__name__)

#: When this process started (before it could register anything): a row with this process's pid and scope that
#: registered earlier belongs to a dead process whose pid we were given (pid 1 in a restarted container, say).
PROCESS_STARTED = utcnow()


class Worker(Base):
    """A running component that claims work. Deleted on clean shutdown, or by the worker that prunes it."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    role: Mapped[str] = mapped_column(String(40))  # dispatcher | analysis
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    #: Where `pid` means something: the kernel's boot id and the pid namespace (containers share a hostname with
    #: their host under host networking, but not their pids).
    pid_scope: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_workers_last_heartbeat_at", "last_heartbeat_at"),)


#: Releases what the given (pruned) workers hold, in the pruning transaction; returns how many claims.
ReleaseHook = Callable[[Session, Sequence[str]], int]
_hooks: dict[str, ReleaseHook] = {}


def on_prune(what: str, hook: ReleaseHook) -> None:
    """Register what to hand back when workers are pruned, by the name of what it releases (idempotent)."""
    _hooks[what] = hook


def pid_scope() -> str:
    """The boot id and pid namespace of this process (Linux), else the hostname: pids are compared only within."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return f"{boot}/{os.readlink('/proc/self/ns/pid')}"[:200]
    except OSError:
        return f"host:{socket.gethostname()}"[:200]


def process_gone(pid: int) -> bool:
    """True when no live process has this pid here (a zombie, killed and not yet reaped, counts as gone)."""
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # someone else's process: alive
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]


def register(session: Session, *, role: str) -> str:
    now = utcnow()
    worker_id = new_id("wrk")
    session.execute(
        insert(Worker).values(
            id=worker_id,
            role=role,
            hostname=socket.gethostname()[:255],
            pid=os.getpid(),
            pid_scope=pid_scope(),
            started_at=now,
            last_heartbeat_at=now,
        )
    )
    return worker_id


def beat(session: Session, *, worker_id: str) -> bool:
    """Renew the heartbeat; False when the row is gone (this worker was presumed dead and pruned)."""
    done = session.execute(update(Worker).where(Worker.id == worker_id).values(last_heartbeat_at=utcnow()))
    return bool(done.rowcount)  # type: ignore[attr-defined]


def deregister(session: Session, *, worker_id: str) -> None:
    session.execute(delete(Worker).where(Worker.id == worker_id))


def prune(session: Session, *, stall_after: float, me: str | None = None) -> dict[str, int]:
    """Delete dead workers and release their claims (every hook, this transaction); returns what was released.

    The candidates are read without locks (live rows on this host are never locked by a prune); the dead ones
    are then locked with SKIP LOCKED on PostgreSQL and checked again, so two workers never release the same
    dead one twice and a worker that beat in between is left alone. On SQLite every transaction holds the
    write lock.
    """
    if not _hooks:
        raise RuntimeError("no release hooks: call gitproductivity.startup.install() first")
    now = utcnow()
    cutoff = now - timedelta(seconds=stall_after)
    scope = pid_scope()
    rows = session.execute(
        select(Worker.id, Worker.hostname, Worker.pid, Worker.pid_scope, Worker.started_at, Worker.last_heartbeat_at)
        .where(or_(Worker.last_heartbeat_at < cutoff, Worker.pid_scope == scope))
        .order_by(Worker.id)
    ).all()
    stalled: dict[str, str] = {}
    vanished: dict[str, str] = {}
    for worker_id, hostname, pid, row_scope, started_at, last_beat in rows:
        if worker_id == me:
            continue
        if last_beat < cutoff:
            stalled[worker_id] = f"{hostname} pid {pid}: no heartbeat for {(now - last_beat).total_seconds():.0f} s"
        elif row_scope == scope and pid == os.getpid() and started_at < PROCESS_STARTED:
            vanished[worker_id] = f"{hostname} pid {pid}: an earlier process with this process's pid"
        elif row_scope == scope and pid != os.getpid() and process_gone(pid):
            vanished[worker_id] = f"{hostname} pid {pid}: the process is gone"
    if not stalled and not vanished:
        return {}
    locked = session.scalars(
        select(Worker.id)
        .where(
            or_(
                Worker.id.in_(list(vanished)),
                Worker.id.in_(list(stalled)) & (Worker.last_heartbeat_at < cutoff),
            )
        )
        .order_by(Worker.id)
        .with_for_update(skip_locked=True)
    ).all()
    dead = {worker_id: {**stalled, **vanished}[worker_id] for worker_id in locked}
    if not dead:
        return {}
    ids = sorted(dead)
    released = {what: hook(session, ids) for what, hook in _hooks.items()}
    session.execute(delete(Worker).where(Worker.id.in_(ids)))
    summary = ", ".join(f"{n} {what}" for what, n in released.items())
    for worker_id, why in dead.items():
        log.warning("worker %s is gone (%s); handing back what it held", worker_id, why)
    log.warning("pruned %d dead worker(s); released %s", len(ids), summary)
    return released


class Registration:
    """One component's row, heartbeated from its own thread; prunes dead workers at start and at every beat.

    `start` and `stop` block (call them with `asyncio.to_thread` from a loop). A registration that cannot reach
    the database keeps trying at every beat; meanwhile its claims carry no worker id and only the leases cover
    them.
    """

    def __init__(self, database: Database, *, role: str) -> None:
        self.database = database
        self.role = role
        self.id: str | None = None
        self._beat_started = 0.0  # time.monotonic() when the last successful beat began
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._tick()
        self._thread = threading.Thread(target=self._run, name=f"gitproductivity-{self.role}-heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop beating and delete the row (clean shutdown: the component has handed back what it held)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.id is None:
            return
        try:
            with self.database.session() as session:
                deregister(session, worker_id=self.id)
        except Exception as exc:
            log.warning("could not deregister worker %s (%s); it will be pruned", self.id, type(exc).__name__)

    def holds(self, worker_id: str | None) -> bool:
        """May work claimed under `worker_id` be done here now? Not when this registration was pruned since
        (`lapsed`), nor while its last beat is so old that others may be pruning it (wait for the next beat)."""
        if worker_id is None:
            return True  # claimed while unregistered: no prune can release it, the lease alone decides
        if worker_id != self.id:
            return False
        return time.monotonic() - self._beat_started < get_settings().worker_stall_after

    def lapsed(self, worker_id: str | None) -> bool:
        """Work claimed under `worker_id` was handed to others: this worker was pruned and registered again."""
        return worker_id is not None and worker_id != self.id

    def _run(self) -> None:
        while not self._stop.wait(get_settings().worker_heartbeat_interval):
            self._tick()

    def _tick(self) -> None:
        settings = get_settings()
        began = time.monotonic()
        try:
            with self.database.session() as session:
                if self.id is None:
                    self.id = register(session, role=self.role)
                    log.info("%s registered as worker %s", self.role, self.id)
                elif not beat(session, worker_id=self.id):
                    old, self.id = self.id, register(session, role=self.role)
                    log.warning(
                        "worker %s was presumed dead (its heartbeat stalled) and its claims were handed to others; "
                        "registered again as %s",
                        old,
                        self.id,
                    )
            # How long this worker itself went without a beat: when the database held everyone up (a long
            # SQLite write, a failover), the others' beats are late by as much, and that is no sign of death.
            own_gap = time.monotonic() - (self._beat_started or began)
            self._beat_started = began
        except Exception as exc:
            log.warning("could not write the heartbeat of %s worker %s (%s)", self.role, self.id, type(exc).__name__)
            return
        stall_after = max(settings.worker_stall_after, own_gap + 2 * settings.worker_heartbeat_interval)
        try:
            with self.database.session() as session:
                prune(session, stall_after=stall_after, me=self.id)
        except Exception:
            log.exception("could not prune dead workers")
