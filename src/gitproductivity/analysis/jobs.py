"""The analysis job queue: queue, claim under a lease, renew the lease, finish.

One repository never has two jobs running at once; a job whose worker died is taken again after its lease
(at most `MAX_ATTEMPTS` times). Workers wake on `core.channels.ANALYSIS` when a job is queued.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from gitproductivity.analysis.models import Analysis, AnalysisStatus
from gitproductivity.core import channels
from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import get_database, get_owned
from gitproductivity.core.errors import Conflict
from gitproductivity.core.ids import new_id, require_id
from gitproductivity.core.settings import get_settings
from gitproductivity.events import service as events
from gitproductivity.events.payloads import AnalysisComplete
from gitproductivity.notifications import service as notifications
from gitproductivity.repositories import service as repositories
from gitproductivity.repositories.models import Repository, RepositoryStatus

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # a job whose worker died this many times is failed rather than retried forever
#: First key of the two-key advisory lock a PostgreSQL claim takes per repository (emit: 0x6770, prune: 0x6771).
_REPOSITORY_LOCK = 0x6772

ProgressCallback = Callable[[int, int], None]


class LeaseLost(Exception):
    """Another worker took the job over (our lease expired); stop without writing anything."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Job:
    analysis_id: str
    organization_id: str
    repository_id: str
    url: str
    kind: str
    full: bool


def enqueue(
    session: Session, *, organization_id: str, repository_id: str, trigger: str, full: bool = False
) -> Analysis:
    """Queue an analysis; a repository with one already queued gets that one back (asking twice is one job)."""
    require_id(repository_id, "repo", "repository")
    repo = repositories.get(session, organization_id=organization_id, repository_id=repository_id)
    if repo.status != RepositoryStatus.CONNECTED:
        raise Conflict(f"the repository {repo.name} is disconnected; connect it again to analyse it")
    queued = session.scalar(
        select(Analysis).where(Analysis.repository_id == repo.id, Analysis.status == AnalysisStatus.QUEUED).limit(1)
    )
    if queued is not None:
        queued.full = queued.full or full
        if queued.trigger == "retry" and trigger != "retry":
            queued.trigger = trigger  # asked for by someone: no longer behind the other jobs
        session.flush()
        return queued
    analysis = Analysis(
        id=new_id("ana"),
        organization_id=organization_id,
        repository_id=repo.id,
        status=AnalysisStatus.QUEUED,
        trigger=trigger,
        full=full,
        created_at=utcnow(),
    )
    session.add(analysis)
    session.flush()
    channels.ANALYSIS.notify(session)
    return analysis


def get(session: Session, *, organization_id: str, analysis_id: str) -> Analysis:
    require_id(analysis_id, "ana", "analysis")
    return get_owned(session, Analysis, organization_id=organization_id, id=analysis_id, what="analysis")


def list_(
    session: Session, *, organization_id: str, repository_id: str, after: str | None = None, limit: int = 50
) -> list[Analysis]:
    """A repository's analyses, newest first (ids sort by creation, so the cursor is an id)."""
    require_id(repository_id, "repo", "repository")
    if after:
        require_id(after, "ana", "cursor analysis")
    repositories.get(session, organization_id=organization_id, repository_id=repository_id)
    stmt = select(Analysis).where(Analysis.repository_id == repository_id)
    if after:
        stmt = stmt.where(Analysis.id < after)
    return list(session.scalars(stmt.order_by(Analysis.id.desc()).limit(limit + 1)))


def claim(session: Session, *, worker: str, limit: int = 1, only: str | None = None) -> list[Analysis]:
    """Take up to `limit` jobs: queued ones, and running ones whose worker stopped renewing its lease.

    PostgreSQL: `FOR UPDATE SKIP LOCKED`, so any number of workers claim different jobs without waiting.
    SQLite: transactions start with BEGIN IMMEDIATE, so claims are serialised anyway. A repository never has
    two jobs running at once (on PostgreSQL see `_free_repositories`).
    """
    now = utcnow()
    lease = timedelta(seconds=get_settings().analysis_lease)
    busy = select(Analysis.repository_id).where(
        Analysis.status == AnalysisStatus.RUNNING, Analysis.lease_expires_at > now
    )
    stmt = select(Analysis).where(
        or_(
            Analysis.status == AnalysisStatus.QUEUED,
            and_(Analysis.status == AnalysisStatus.RUNNING, Analysis.lease_expires_at <= now),
        ),
        Analysis.repository_id.not_in(busy),
    )
    if only:
        stmt = stmt.where(Analysis.id == only)
    # Exactly `limit` rows: every row selected here stays locked until commit, claimed or not.
    retries_last = case((Analysis.trigger == "retry", 1), else_=0)
    stmt = stmt.order_by(retries_last, Analysis.created_at, Analysis.id).limit(limit).with_for_update(skip_locked=True)
    candidates = list(session.scalars(stmt))
    free = _free_repositories(session, candidates, now=now)
    claimed: list[Analysis] = []
    seen: set[str] = set()
    for analysis in candidates:
        if analysis.repository_id in seen or analysis.repository_id not in free:
            continue  # one job per repository at a time; the other stays queued
        seen.add(analysis.repository_id)
        if analysis.attempts >= MAX_ATTEMPTS:
            finish_failed(session, analysis, f"the worker stopped {analysis.attempts} times while analysing")
            continue
        analysis.status = AnalysisStatus.RUNNING
        analysis.worker = worker
        analysis.attempts += 1
        analysis.lease_expires_at = now + lease
        analysis.started_at = analysis.started_at or now
        claimed.append(analysis)
    session.flush()
    return claimed


def _free_repositories(session: Session, candidates: Sequence[Analysis], *, now: datetime) -> set[str]:
    """The candidates' repositories this claim may start a job of.

    On PostgreSQL `SKIP LOCKED` alone is not enough: while claimer A's transaction takes a dead worker's job
    again, claimer B skips that locked row, finds the repository's next queued job, and its `busy` test (a
    snapshot from before A's commit) sees no live lease. So each repository is also locked for the rest of the
    transaction (a try-lock: a repository another claimer holds is left for a later claim), then tested again in
    a statement of its own, which sees what committed meanwhile.
    """
    repository_ids = sorted({a.repository_id for a in candidates})
    if not repository_ids or session.get_bind().dialect.name != "postgresql":
        return set(repository_ids)
    locked = {
        r
        for r in repository_ids
        if session.scalar(select(func.pg_try_advisory_xact_lock(_REPOSITORY_LOCK, func.hashtext(r))))
    }
    if not locked:
        return locked
    busy = session.scalars(
        select(Analysis.repository_id).where(
            Analysis.repository_id.in_(sorted(locked)),
            Analysis.status == AnalysisStatus.RUNNING,
            Analysis.lease_expires_at > now,
            Analysis.id.not_in([a.id for a in candidates]),
        )
    )
    return locked - set(busy)


def release_claims_of(session: Session, worker_ids: Sequence[str]) -> int:
    """End at once the leases of the running jobs of dead workers (a `core.workers` prune hook).

    The job stays `running` with its attempt counted, exactly as if its lease had run out: the next claim takes
    it (and fails it after `MAX_ATTEMPTS`); the old worker, were it alive after all, keeps it by renewing the
    lease before anyone claims it, and once claimed elsewhere it can store nothing (`store.save` checks the
    worker).
    """
    now = utcnow()
    done = session.execute(
        update(Analysis)
        .where(
            Analysis.status == AnalysisStatus.RUNNING,
            Analysis.worker.in_(list(worker_ids)),
            Analysis.lease_expires_at > now,
        )
        .values(lease_expires_at=now)
        .execution_options(synchronize_session=False)
    )
    released = int(done.rowcount or 0)  # type: ignore[attr-defined]
    if released:
        channels.ANALYSIS.notify(session)
    return released


def schedule_rechecks(session: Session) -> int:
    """Queue an analysis for every connected repository not analysed within the re-check interval.

    A repository whose analyses keep failing waits for its backoff (`analysis_retry_at`, see `failed`) and is
    queued as a `retry`, after the healthy ones, which `claim` also takes first: failing repositories never
    hold up healthy ones.
    """
    interval = get_settings().analysis_recheck_interval
    if interval <= 0:
        return 0
    now = utcnow()
    due = now - timedelta(seconds=interval)
    pending = select(Analysis.repository_id).where(Analysis.status.in_((AnalysisStatus.QUEUED, AnalysisStatus.RUNNING)))
    stmt = select(Repository).where(
        Repository.status == RepositoryStatus.CONNECTED,
        or_(Repository.last_analysed_at.is_(None), Repository.last_analysed_at <= due),
        or_(Repository.analysis_retry_at.is_(None), Repository.analysis_retry_at <= now),
        Repository.id.not_in(pending),
    )
    stmt = stmt.order_by(Repository.analysis_failures, Repository.last_analysed_at.is_not(None), Repository.id)
    count = 0
    for repo in session.scalars(stmt.limit(100)):
        trigger = "retry" if repo.analysis_failures else "schedule"
        enqueue(session, organization_id=repo.organization_id, repository_id=repo.id, trigger=trigger)
        count += 1
    return count


def next_retry_at(repo: Repository, *, now: datetime) -> datetime | None:
    """When the schedule (`schedule_rechecks`) will try a failing repository again, exactly: the later of its
    backoff (`retry_delay`) after this failure and the re-check interval after its last successful analysis
    (the schedule never analyses a repository sooner than that). None when scheduled analyses are off
    (`analysis_recheck_interval` 0): only an analysis someone asks for runs then."""
    interval = get_settings().analysis_recheck_interval
    if interval <= 0:
        return None
    at = now + timedelta(seconds=retry_delay(repo.analysis_failures))
    if repo.last_analysed_at is not None:
        at = max(at, repo.last_analysed_at + timedelta(seconds=interval))
    return at


def retry_delay(failures: int) -> float:
    """Seconds before the schedule tries a repository again after `failures` failed analyses in a row: the
    backoff doubles from `analysis_failure_backoff` up to the re-check interval (never below the first delay)."""
    settings = get_settings()
    first = settings.analysis_failure_backoff
    return min(first * 2.0 ** min(max(failures - 1, 0), 40), max(first, settings.analysis_recheck_interval))


class Heartbeat:
    """Renews the lease and records progress from a background thread while the job runs."""

    def __init__(self, analysis_id: str, worker: str, on_progress: ProgressCallback | None) -> None:
        self.analysis_id = analysis_id
        self.worker = worker
        self.on_progress = on_progress
        self.done = 0
        self.total = 0
        self.lost = False
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{analysis_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def set_total(self, total: int) -> None:
        with self._lock:
            self.total, self.done = total, 0
        self._report()

    def advance(self, count: int) -> None:
        with self._lock:
            self.done += count
        self._report()

    def _report(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.done, self.total)

    def _run(self) -> None:
        interval = min(1.0, get_settings().analysis_lease / 3)
        while not self._stop.wait(interval):
            try:
                self.beat()
            except LeaseLost:
                self.lost = True
                return
            except Exception:
                log.exception("could not renew the lease of %s", self.analysis_id)

    def beat(self) -> None:
        lease = timedelta(seconds=get_settings().analysis_lease)
        with get_database().session() as session:
            result = session.execute(
                update(Analysis)
                .where(
                    Analysis.id == self.analysis_id,
                    Analysis.worker == self.worker,
                    Analysis.status == AnalysisStatus.RUNNING,
                )
                .values(commits_done=self.done, commits_total=self.total, lease_expires_at=utcnow() + lease)
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise LeaseLost(self.analysis_id)


def finish_failed(session: Session, analysis: Analysis, message: str, *, duration: float | None = None) -> None:
    """Record the failure and its `analysis.complete` (each attempt is an analysis that ended); owners are
    notified once per streak of failures, and the repository's next scheduled attempt backs off."""
    now = utcnow()
    analysis.status = AnalysisStatus.FAILED
    analysis.error = message[:2000]
    analysis.finished_at = now
    analysis.lease_expires_at = None
    seconds = duration if duration is not None else (now - (analysis.started_at or now)).total_seconds()
    session.flush()
    repo = session.get(Repository, analysis.repository_id)
    name = repo.name if repo is not None else analysis.repository_id
    if repo is not None:
        repo.analysis_failures += 1
        repo.analysis_retry_at = next_retry_at(repo, now=now)
    if repo is None or repo.analysis_failures == 1:
        later = (
            "It will be tried again later, less and less often while it keeps failing"
            if get_settings().analysis_recheck_interval > 0
            else "Scheduled analyses are off on this server (GITPRODUCTIVITY_ANALYSIS_RECHECK_INTERVAL=0): it is "
            "tried again only when someone asks for an analysis"
        )
        notifications.create(
            session,
            organization_id=analysis.organization_id,
            kind="analysis.failed",
            subject=f"Analysis of {name} failed",
            body=f"The analysis {analysis.id} of repository {name} failed: {analysis.error}\n\n"
            f"{later}; you will hear again when an analysis of this repository succeeds.",
            subject_id=analysis.id,
        )
    events.emit(session, organization_id=analysis.organization_id, data=complete_data(analysis, duration=seconds))


def finish_recovered(session: Session, analysis: Analysis, repo: Repository) -> None:
    """A success ends the repository's failure streak; owners told of the streak hear that it is over."""
    failures, repo.analysis_failures, repo.analysis_retry_at = repo.analysis_failures, 0, None
    if failures:
        notifications.create(
            session,
            organization_id=analysis.organization_id,
            kind="analysis.recovered",
            subject=f"Analysis of {repo.name} succeeded again",
            body=f"The analysis {analysis.id} of repository {repo.name} succeeded after {failures} failed "
            f"analys{'is' if failures == 1 else 'es'} in a row.",
            subject_id=analysis.id,
        )


def complete_data(analysis: Analysis, *, duration: float) -> AnalysisComplete:
    """The `analysis.complete` payload of a finished (succeeded or failed) analysis."""
    return AnalysisComplete(
        analysis_id=analysis.id,
        repository_id=analysis.repository_id,
        status=analysis.status,
        mode=analysis.mode,
        branch=analysis.branch,
        head_commit=analysis.head_commit,
        commits_analysed=analysis.commits_analysed,
        new_commits=analysis.new_commits,
        developers_updated=analysis.developers_updated,
        duration_seconds=round(duration, 3),
        error=analysis.error,
        skipped_commits=analysis.skipped_commits or 0,
    )
