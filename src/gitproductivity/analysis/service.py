"""Analysis jobs: queue, claim under a lease, run (read git outside any transaction), store in ONE transaction.

The storing transaction writes the rollups, the new developers (`developer.added`), one `metrics.updated`
per developer whose totals changed, the repository's new analysed head and `analysis.complete` — so an event
exists exactly when the metrics it describes were committed. It first locks the repository row and checks
that nobody stored a newer analysis meanwhile; if someone did, the read is redone from the new base.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, tuple_, update
from sqlalchemy.orm import Session

from gitproductivity.analysis import exclusions, git, reader
from gitproductivity.analysis.identities import DEFAULT_BOT_PATTERNS, BotMatcher, canonical_email
from gitproductivity.analysis.models import Analysis
from gitproductivity.core import wakeup
from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import after_commit, get_database
from gitproductivity.core.errors import Conflict, NotFound
from gitproductivity.core.ids import new_id, require_id
from gitproductivity.core.settings import get_settings
from gitproductivity.developers import service as developers
from gitproductivity.developers.models import Developer, DeveloperEmail
from gitproductivity.events import service as events
from gitproductivity.events.payloads import AnalysisComplete
from gitproductivity.metrics import service as metrics
from gitproductivity.metrics.models import DailyRollup
from gitproductivity.notifications import service as notifications
from gitproductivity.repositories import service as repositories
from gitproductivity.repositories import urls
from gitproductivity.repositories.models import Repository

log = logging.getLogger(__name__)

#: In-process wake-up channel and PostgreSQL NOTIFY channel fired when an analysis is queued.
ANALYSIS_CHANNEL = "gitproductivity_analysis"
MAX_ATTEMPTS = 3  # a job whose worker died this many times is failed rather than retried forever
ProgressCallback = Callable[[int, int], None]


class LeaseLost(Exception):
    """Another worker took the job over (our lease expired); stop without writing anything."""


class StaleBase(Exception):
    """The repository was analysed by someone else since we started reading; read again."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


# --- queue -------------------------------------------------------------------------------------------------


def enqueue(
    session: Session, *, organization_id: str, repository_id: str, trigger: str, full: bool = False
) -> Analysis:
    """Queue an analysis; a repository with one already queued gets that one back (asking twice is one job)."""
    require_id(repository_id, "repo", "repository")
    repo = repositories.get(session, organization_id=organization_id, repository_id=repository_id)
    if repo.status != "connected":
        raise Conflict(f"repository {repo.id} is disconnected; connect it again to analyse it")
    queued = session.scalar(
        select(Analysis).where(Analysis.repository_id == repo.id, Analysis.status == "queued").limit(1)
    )
    if queued is not None:
        queued.full = queued.full or full
        session.flush()
        return queued
    analysis = Analysis(
        id=new_id("ana"),
        organization_id=organization_id,
        repository_id=repo.id,
        status="queued",
        trigger=trigger,
        full=full,
        created_at=utcnow(),
    )
    session.add(analysis)
    session.flush()
    _notify(session)
    return analysis


def _notify(session: Session) -> None:
    from sqlalchemy import text

    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": ANALYSIS_CHANNEL})
    after_commit(session, lambda: wakeup.fire(ANALYSIS_CHANNEL))


def get(session: Session, *, organization_id: str, analysis_id: str) -> Analysis:
    require_id(analysis_id, "ana", "analysis")
    analysis = session.scalar(
        select(Analysis).where(Analysis.id == analysis_id, Analysis.organization_id == organization_id)
    )
    if analysis is None:
        raise NotFound(f"analysis {analysis_id} not found")
    return analysis


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
    two jobs running at once.
    """
    now = utcnow()
    lease = timedelta(seconds=get_settings().analysis_lease)
    busy = select(Analysis.repository_id).where(Analysis.status == "running", Analysis.lease_expires_at > now)
    stmt = select(Analysis).where(
        or_(Analysis.status == "queued", and_(Analysis.status == "running", Analysis.lease_expires_at <= now)),
        Analysis.repository_id.not_in(busy),
    )
    if only:
        stmt = stmt.where(Analysis.id == only)
    # Exactly `limit` rows: every row selected here stays locked until commit, claimed or not.
    stmt = stmt.order_by(Analysis.created_at, Analysis.id).limit(limit).with_for_update(skip_locked=True)
    claimed: list[Analysis] = []
    seen: set[str] = set()
    for analysis in session.scalars(stmt):
        if analysis.repository_id in seen:
            continue  # one job per repository at a time; the other stays queued
        seen.add(analysis.repository_id)
        if analysis.attempts >= MAX_ATTEMPTS:
            _finish_failed(session, analysis, f"the worker stopped {analysis.attempts} times while analysing")
            continue
        analysis.status = "running"
        analysis.worker = worker
        analysis.attempts += 1
        analysis.lease_expires_at = now + lease
        analysis.started_at = analysis.started_at or now
        claimed.append(analysis)
    session.flush()
    return claimed


def schedule_rechecks(session: Session) -> int:
    """Queue an analysis for every connected repository not analysed within the re-check interval."""
    interval = get_settings().analysis_recheck_interval
    if interval <= 0:
        return 0
    due = utcnow() - timedelta(seconds=interval)
    pending = select(Analysis.repository_id).where(Analysis.status.in_(("queued", "running")))
    stmt = select(Repository).where(
        Repository.status == "connected",
        or_(Repository.last_analysed_at.is_(None), Repository.last_analysed_at <= due),
        Repository.id.not_in(pending),
    )
    count = 0
    for repo in session.scalars(stmt.limit(100)):
        enqueue(session, organization_id=repo.organization_id, repository_id=repo.id, trigger="schedule")
        count += 1
    return count


# --- running a job -------------------------------------------------------------------------------------------


@dataclass
class Job:
    analysis_id: str
    organization_id: str
    repository_id: str
    url: str
    kind: str
    full: bool


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
                .where(Analysis.id == self.analysis_id, Analysis.worker == self.worker, Analysis.status == "running")
                .values(commits_done=self.done, commits_total=self.total, lease_expires_at=utcnow() + lease)
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise LeaseLost(self.analysis_id)


def execute(*, analysis_id: str, worker: str, on_progress: ProgressCallback | None = None) -> str:
    """Run a claimed job to its end; returns the final status ("succeeded", "failed" or "lost")."""
    started = time.monotonic()
    with get_database().session() as session:
        analysis = session.get(Analysis, analysis_id)
        if analysis is None or analysis.status != "running" or analysis.worker != worker:
            return "lost"
        repo = session.get(Repository, analysis.repository_id)
        assert repo is not None
        if repo.status != "connected":
            _finish_failed(session, analysis, "the repository was disconnected before it was analysed")
            return "failed"
        job = Job(analysis.id, analysis.organization_id, repo.id, repo.url, repo.kind, analysis.full)
    heartbeat = Heartbeat(analysis_id, worker, on_progress)
    heartbeat.start()
    try:
        _analyse(job, worker, heartbeat, started)
        return "succeeded"
    except LeaseLost:
        log.warning("analysis %s was taken over by another worker", analysis_id)
        return "lost"
    except Exception as exc:
        message = str(exc) if isinstance(exc, git.GitError | StaleBase) else f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, git.GitError):
            log.exception("analysis %s failed", analysis_id)
        with get_database().session() as session:
            analysis = session.get(Analysis, analysis_id)
            if analysis is None or analysis.worker != worker or analysis.status != "running":
                return "lost"
            _finish_failed(session, analysis, message, duration=time.monotonic() - started)
        return "failed"
    finally:
        heartbeat.stop()


def _finish_failed(session: Session, analysis: Analysis, message: str, *, duration: float | None = None) -> None:
    now = utcnow()
    analysis.status = "failed"
    analysis.error = message[:2000]
    analysis.finished_at = now
    analysis.lease_expires_at = None
    seconds = duration if duration is not None else (now - (analysis.started_at or now)).total_seconds()
    session.flush()
    repo = session.get(Repository, analysis.repository_id)
    name = repo.name if repo is not None else analysis.repository_id
    notifications.create(
        session,
        organization_id=analysis.organization_id,
        kind="analysis.failed",
        subject=f"Analysis of {name} failed",
        body=f"The analysis {analysis.id} of repository {name} failed: {analysis.error}",
        subject_id=analysis.id,
    )
    events.emit(
        session,
        organization_id=analysis.organization_id,
        data=AnalysisComplete.model_validate(complete_data(analysis, duration=seconds)),
    )


def complete_data(analysis: Analysis, *, duration: float) -> dict[str, Any]:
    return {
        "analysis_id": analysis.id,
        "repository_id": analysis.repository_id,
        "status": analysis.status,
        "mode": analysis.mode,
        "branch": analysis.branch,
        "head_commit": analysis.head_commit,
        "commits_analysed": analysis.commits_analysed,
        "new_commits": analysis.new_commits,
        "developers_updated": analysis.developers_updated,
        "duration_seconds": round(duration, 3),
        "error": analysis.error,
    }


def local_path(job: Job) -> Path:
    if job.kind == "local":
        return Path(job.url)
    return get_settings().data_dir / "repositories" / f"{job.repository_id}.git"


def _analyse(job: Job, worker: str, heartbeat: Heartbeat, started: float) -> None:
    settings = get_settings()
    t0 = time.monotonic()
    path = local_path(job)
    if job.kind == "remote":
        git.clone_or_fetch(job.url, path)
    elif not path.is_dir():
        raise git.GitError(f"{path} is no longer there")
    elif refusal := urls.outside_allowed_roots(path):
        raise git.GitError(refusal)
    fetch_ms = int((time.monotonic() - t0) * 1000)
    for _attempt in range(3):
        with get_database().session() as session:
            repo = session.get(Repository, job.repository_id)
            assert repo is not None
            base, seen_fingerprint = repo.last_commit, repo.rules_fingerprint
            branch = repo.branch or repo.default_branch or git.default_branch(path)
        plan = _plan(path, branch=branch, base=base, seen_fingerprint=seen_fingerprint, full=job.full)
        heartbeat.set_total(len(plan.commits))
        t1 = time.monotonic()
        tally = reader.read(
            path,
            plan.commits,
            plan.paths,
            shards=settings.analysis_shards or os.cpu_count() or 1,
            min_shard=settings.analysis_min_shard,
            mailmap=plan.mailmap,
            progress=heartbeat.advance,
        )
        read_ms = int((time.monotonic() - t1) * 1000)
        if heartbeat.lost:
            raise LeaseLost(job.analysis_id)
        try:
            with get_database().session() as session:
                timings = (fetch_ms, read_ms, started)
                _store(session, job, worker, plan, tally, base=base, seen_fingerprint=seen_fingerprint, timings=timings)
            return
        except (StaleBase, Conflict):
            log.info("analysis %s: the repository changed while reading; reading again", job.analysis_id)
    raise StaleBase("the repository kept being analysed by others; gave up after 3 tries")


@dataclass
class Plan:
    branch: str | None
    head: str | None
    mode: str  # full | incremental | up_to_date
    reason: str | None
    commits: Sequence[str]
    new_commits: int
    fingerprint: str
    paths: exclusions.PathFilter
    mailmap: str


def _fingerprint(path: Path, head: str | None, rules: list[exclusions.Rule]) -> str:
    """Everything besides the history that decides the numbers; when it changes, the history is read again."""
    settings = get_settings()
    worktree_mailmap = path / ".mailmap"
    parts: list[Any] = [
        git.blob_id(path, head, ".mailmap") if head else "",
        hashlib.sha256(worktree_mailmap.read_bytes()).hexdigest() if worktree_mailmap.is_file() else "",
        rules,
        [*DEFAULT_BOT_PATTERNS, *settings.bot_patterns],
        [*exclusions.DEFAULT_EXCLUDES, *settings.exclude_globs],
        settings.analysis_first_parent,
        2,  # bump when a counting rule in the code changes
    ]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _plan(path: Path, *, branch: str | None, base: str | None, seen_fingerprint: str | None, full: bool) -> Plan:
    settings = get_settings()
    head = git.rev_parse(path, f"refs/heads/{branch}") if branch else git.rev_parse(path, "HEAD")
    if head is None and git.rev_parse(path, "HEAD") is not None and branch:
        raise git.GitError(f"branch {branch!r} not found in the repository")
    rules = exclusions.gitattributes_rules(path, head) if head else []
    paths = exclusions.PathFilter([*exclusions.DEFAULT_EXCLUDES, *settings.exclude_globs], rules)
    fingerprint = _fingerprint(path, head, rules)
    mailmap = f"{head}:.mailmap" if head and git.blob_id(path, head, ".mailmap") else ""
    first_parent = settings.analysis_first_parent
    reason: str | None = None
    if base is None:
        reason = "first"
    elif full:
        reason = "requested"
    elif fingerprint != seen_fingerprint:
        reason = "rules_changed"
    elif head is not None and base != head and not git.is_ancestor(path, base, head):
        reason = "force_push"
    if head is None:
        return Plan(branch, None, "full", reason, [], 0, fingerprint, paths, mailmap)
    if reason is None and base == head:
        return Plan(branch, head, "up_to_date", None, [], 0, fingerprint, paths, mailmap)
    if reason is None:
        commits = reader.list_commits(path, head, exclude=base, first_parent=first_parent)
        return Plan(branch, head, "incremental", None, commits, len(commits), fingerprint, paths, mailmap)
    commits = reader.list_commits(path, head, first_parent=first_parent)
    new = len(commits)
    if base is not None and git.rev_parse(path, base) is not None:
        new = len(reader.list_commits(path, head, exclude=base, first_parent=first_parent))
    return Plan(branch, head, "full", reason, commits, new, fingerprint, paths, mailmap)


def _day(ordinal: int) -> date:
    return date(1970, 1, 1) + timedelta(days=ordinal)


def _ts(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _store(
    session: Session,
    job: Job,
    worker: str,
    plan: Plan,
    tally: reader.Tally,
    *,
    base: str | None,
    seen_fingerprint: str | None,
    timings: tuple[int, int, float],
) -> None:
    t0 = time.monotonic()
    repo = session.scalar(select(Repository).where(Repository.id == job.repository_id).with_for_update())
    assert repo is not None
    if repo.last_commit != base or repo.rules_fingerprint != seen_fingerprint:
        raise StaleBase("the repository was analysed meanwhile")
    analysis = session.scalar(select(Analysis).where(Analysis.id == job.analysis_id).with_for_update())
    if analysis is None or analysis.status != "running" or analysis.worker != worker:
        raise LeaseLost(job.analysis_id)

    owner = _resolve_identities(session, job.organization_id, tally)
    rows: dict[tuple[str, int], list[int]] = {}
    for (email, day), values in tally.days.items():
        key = (owner[email], day)
        mine = rows.get(key)
        if mine is None:
            rows[key] = list(values)
        else:
            for i in range(5):
                mine[i] += values[i]
            mine[5] = min(mine[5], values[5])
            mine[6] = max(mine[6], values[6])
    touched = {dev for dev, _ in rows}
    if plan.mode == "full":
        before = metrics.repository_totals(session, repository_id=repo.id)
        session.execute(delete(DailyRollup).where(DailyRollup.repository_id == repo.id))
        _insert(session, job, rows)
    else:
        before = metrics.repository_totals(session, repository_id=repo.id, developer_ids=touched)
        _upsert(session, job, rows)
    session.flush()
    changed = touched | set(before)
    after = metrics.repository_totals(session, repository_id=repo.id, developer_ids=changed)
    devs = {d.id: d for d in session.scalars(select(Developer).where(Developer.id.in_(changed)))}
    updated = 0
    for dev_id in sorted(changed):
        dev = devs[dev_id]
        old, new = before.get(dev_id, metrics.Totals()), after.get(dev_id, metrics.Totals())
        delta = new.delta(old)
        if dev.is_bot or (not any(delta.values()) and old.as_dict() == new.as_dict()):
            continue  # bots are not developers; unchanged totals are not news
        updated += 1
        events.emit(
            session,
            organization_id=job.organization_id,
            data=metrics.metrics_updated(dev, repository_id=repo.id, analysis_id=analysis.id, new=new, old=old),
        )
    now = utcnow()
    repo.last_commit = plan.head
    repo.rules_fingerprint = plan.fingerprint
    repo.last_analysed_at = now
    if plan.branch and not repo.branch:
        repo.default_branch = plan.branch
    fetch_ms, read_ms, started = timings
    analysis.status = "succeeded"
    analysis.mode = plan.mode
    analysis.reason = plan.reason
    analysis.branch = plan.branch
    analysis.base_commit = base
    analysis.head_commit = plan.head
    analysis.commits_total = analysis.commits_done = analysis.commits_analysed = tally.commits
    analysis.new_commits = plan.new_commits
    analysis.developers_updated = updated
    analysis.fetch_ms, analysis.read_ms = fetch_ms, read_ms
    analysis.store_ms = int((time.monotonic() - t0) * 1000)
    analysis.finished_at = now
    analysis.lease_expires_at = None
    analysis.error = None
    session.flush()
    events.emit(
        session,
        organization_id=job.organization_id,
        data=AnalysisComplete.model_validate(complete_data(analysis, duration=time.monotonic() - started)),
    )


def _resolve_identities(session: Session, organization_id: str, tally: reader.Tally) -> dict[str, str]:
    """identity -> developer id; authors seen for the first time become developers (bots flagged as such)."""
    settings = get_settings()
    known: dict[str, str] = {}
    for email, dev_id in session.execute(
        select(DeveloperEmail.email, DeveloperEmail.developer_id).where(
            DeveloperEmail.organization_id == organization_id
        )
    ):
        known.setdefault(canonical_email(email), dev_id)
    is_bot = BotMatcher(settings.bot_patterns)
    for email in sorted(tally.names):
        if email in known:
            continue
        name = tally.names[email][1].strip() or email
        dev = developers.create(
            session,
            organization_id=organization_id,
            name=name[:200],
            email=email,
            is_bot=is_bot(name, email),
            validate=False,
        )
        known[email] = dev.id
    return {email: known[email] for email in tally.names}


def _row_values(job: Job, dev_id: str, day: int, v: list[int]) -> dict[str, Any]:
    return {
        "repository_id": job.repository_id,
        "developer_id": dev_id,
        "day": _day(day),
        "organization_id": job.organization_id,
        "commits": v[reader.COMMITS],
        "merges": v[reader.MERGES],
        "lines_added": v[reader.ADDED],
        "lines_deleted": v[reader.DELETED],
        "files_changed": v[reader.FILES],
        "first_commit_at": _ts(v[reader.FIRST]),
        "last_commit_at": _ts(v[reader.LAST]),
    }


def _insert(session: Session, job: Job, rows: dict[tuple[str, int], list[int]]) -> None:
    """A full read writes many rows: Core executemany in batches, no ORM objects (about 30 % faster)."""
    values = [_row_values(job, dev, day, v) for (dev, day), v in rows.items()]
    table = DailyRollup.metadata.tables[DailyRollup.__tablename__]
    for start in range(0, len(values), 5000):
        session.connection().execute(insert(table), values[start : start + 5000])


def _upsert(session: Session, job: Job, rows: dict[tuple[str, int], list[int]]) -> None:
    if not rows:
        return
    keys = [(dev, _day(day)) for dev, day in rows]
    existing: dict[tuple[str, date], DailyRollup] = {}
    for start in range(0, len(keys), 500):
        stmt = select(DailyRollup).where(
            DailyRollup.repository_id == job.repository_id,
            tuple_(DailyRollup.developer_id, DailyRollup.day).in_(keys[start : start + 500]),
        )
        existing.update({(r.developer_id, r.day): r for r in session.scalars(stmt)})
    for (dev, day), v in rows.items():
        row = existing.get((dev, _day(day)))
        if row is None:
            session.add(DailyRollup(**_row_values(job, dev, day, v)))
            continue
        row.commits += v[reader.COMMITS]
        row.merges += v[reader.MERGES]
        row.lines_added += v[reader.ADDED]
        row.lines_deleted += v[reader.DELETED]
        row.files_changed += v[reader.FILES]
        row.first_commit_at = min(row.first_commit_at, _ts(v[reader.FIRST]))
        row.last_commit_at = max(row.last_commit_at, _ts(v[reader.LAST]))


def run_now(
    *,
    organization_id: str,
    repository_id: str,
    full: bool = False,
    trigger: str = "cli",
    on_progress: ProgressCallback | None = None,
) -> str:
    """Queue and run an analysis in this process (the CLI); returns its id."""
    worker = worker_name()
    with get_database().session() as session:
        analysis = enqueue(
            session, organization_id=organization_id, repository_id=repository_id, trigger=trigger, full=full
        )
        analysis_id = analysis.id
        claimed = claim(session, worker=worker, only=analysis_id)
        if not claimed:
            raise Conflict(f"repository {repository_id} is being analysed by another worker right now")
    execute(analysis_id=analysis_id, worker=worker, on_progress=on_progress)
    return analysis_id
