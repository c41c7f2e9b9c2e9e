"""Running a claimed analysis: fetch, plan, read git outside any transaction, then store.

Reading is retried from the new base (up to three times) when another run stored first.
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from gitproductivity.analysis import (
    categories,
    categories_rollup,
    fetch,
    git,
    origins,
    ownership,
    ownership_store,
    plan,
    reader,
    replay,
    store,
)
from gitproductivity.analysis.jobs import (
    Heartbeat,
    Job,
    LeaseLost,
    ProgressCallback,
    claim,
    enqueue,
    finish_failed,
    worker_name,
)
from gitproductivity.analysis.models import Analysis, AnalysisStatus
from gitproductivity.analysis.store import StaleBase
from gitproductivity.core import workers
from gitproductivity.core.db import get_database
from gitproductivity.core.errors import Conflict
from gitproductivity.core.settings import get_settings
from gitproductivity.repositories import local
from gitproductivity.repositories.models import Repository, RepositoryStatus

log = logging.getLogger(__name__)


def execute(*, analysis_id: str, worker: str, on_progress: ProgressCallback | None = None) -> str:
    """Run a claimed job to its end; returns the final status ("succeeded", "failed" or "lost")."""
    started = time.monotonic()
    with get_database().session() as session:
        analysis = session.get(Analysis, analysis_id)
        if analysis is None or analysis.status != AnalysisStatus.RUNNING or analysis.worker != worker:
            return "lost"
        repo = session.get(Repository, analysis.repository_id)
        assert repo is not None
        if repo.status != RepositoryStatus.CONNECTED:
            finish_failed(session, analysis, "the repository was disconnected before it was analysed")
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
        # In words for people (the repositories page, notices, `analysis.complete`): an unexpected error's
        # class and text are internals, written to the server log just below.
        message = str(exc) if isinstance(exc, git.GitError | StaleBase) else UNEXPECTED
        if not isinstance(exc, git.GitError):
            log.exception("analysis %s failed", analysis_id)
        with get_database().session() as session:
            analysis = session.get(Analysis, analysis_id)
            if analysis is None or analysis.worker != worker or analysis.status != AnalysisStatus.RUNNING:
                return "lost"
            finish_failed(session, analysis, message, duration=time.monotonic() - started)
        return "failed"
    finally:
        heartbeat.stop()


UNEXPECTED = "the analysis stopped on an unexpected error; the details are in the server log"


def local_path(job: Job) -> Path:
    if job.kind == "local":
        return Path(job.url)
    return get_settings().data_dir / "repositories" / f"{job.repository_id}.git"


def _analyse(job: Job, worker: str, heartbeat: Heartbeat, started: float) -> None:
    t0 = time.monotonic()
    path = local_path(job)
    if job.kind == "remote":
        fetch.mirror(job.url, path)
    else:  # the repository may have changed since it was connected: everything git follows is checked again
        try:
            local.check(path)
        except local.Refused as exc:
            log.warning("analysis %s: %s", job.analysis_id, exc.detail)
            gone = f"{path} is no longer a git repository, or lies outside the allowed local roots"
            raise git.GitError(gone) from None
    fetch_ms = int((time.monotonic() - t0) * 1000)
    for _attempt in range(3):
        with get_database().session() as session:
            repo = session.get(Repository, job.repository_id)
            assert repo is not None
            base, seen_fingerprint = repo.last_commit, repo.rules_fingerprint
            branch = repo.branch or repo.default_branch or git.default_branch(path)
        work = plan.make(path, branch=branch, base=base, seen_fingerprint=seen_fingerprint, full=job.full)
        heartbeat.set_total(len(work.commits))
        t1 = time.monotonic()
        tally, replayed = _read(job, path, work, heartbeat)
        _fold_categories(job, tally, replayed)
        categories_rollup.credit_co_authors(path, tally, work.mailmap)  # always, categories on or off
        own = _ownership(job, path, work, replayed.replay if replayed else None)
        read_ms = int((time.monotonic() - t1) * 1000)
        if heartbeat.lost:
            raise LeaseLost(job.analysis_id)
        try:
            with get_database().session() as session:
                timings = (fetch_ms, read_ms, started)
                store.save(
                    session,
                    job,
                    worker,
                    work,
                    tally,
                    base=base,
                    seen_fingerprint=seen_fingerprint,
                    timings=timings,
                    ownership=own,
                )
            return
        except (StaleBase, Conflict):
            log.info("analysis %s: the repository changed while reading; reading again", job.analysis_id)
    raise StaleBase("the repository kept being analysed by others; gave up after 3 tries")


def _read(job: Job, path: Path, work: plan.Plan, heartbeat: Heartbeat) -> tuple[reader.Tally, categories.Result | None]:
    """The plan's commits read, with their change categories (None when turned off).

    When the categories replay history (a first or full analysis), the commit reader's counts come from the
    replay's own stream: history is diffed once. Otherwise the categories blame with git processes of their own,
    beside the sharded commit read."""
    settings = get_settings()

    def read() -> reader.Tally:
        return reader.read(
            path,
            work.commits,
            work.paths,
            shards=settings.analysis_shards or os.cpu_count() or 1,
            min_shard=settings.analysis_min_shard,
            mailmap=work.mailmap,
            progress=heartbeat.advance,
            languages_hours=settings.languages_hours,
        )

    if not settings.change_categories or not work.commits or work.head is None:
        return read(), None
    if categories.worth_replaying(path, work.head, len(work.commits)):
        counts = reader.Parser(
            work.paths, progress=heartbeat.advance, languages_hours=settings.languages_hours, oldest_first=True
        )
        replayed = _categories(job, path, work, "replay", counts)
        if replayed.counts is not None:
            return replayed.counts, replayed
        heartbeat.set_total(len(work.commits))  # the replay failed: the commits are read again, on their own
        return read(), replayed
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="categories") as beside:
        found = beside.submit(_categories, job, path, work, "blame")
        tally = read()
        return tally, found.result()


def _categories(
    job: Job, path: Path, work: plan.Plan, engine: categories.Engine, counts: reader.Parser | None = None
) -> categories.Result:
    return categories.compute(
        path,
        work.commits,
        work.paths,
        head=work.head,
        mailmap=work.mailmap,
        commit_graph=job.kind == "remote",  # our own mirror; a local repository is never written to
        engine=engine,
        counts=counts,
    )


def _fold_categories(job: Job, tally: reader.Tally, result: categories.Result | None) -> None:
    """Fold the categories into `tally` (zeros when turned off)."""
    if result is None:
        categories_rollup.widen(tally)
        return
    with get_database().session() as session:
        known = categories_rollup.developer_of(session, organization_id=job.organization_id)
    categories_rollup.fold(tally, result, known)


def _ownership(job: Job, path: Path, work: plan.Plan, kept: origins.Replay | None) -> ownership.Result | None:
    """Ownership at the plan's head (after the commits were read), reusing the last computation's per-file blame
    unless a full analysis was asked for, else from a replay of history (the categories' when they replayed
    it); None when turned off or the branch has no commit."""
    if not get_settings().ownership or work.head is None:
        return None
    head = work.head

    def known(ignored: set[str]) -> dict[bytes, tuple[str, ownership.Blame | None]] | None:
        replayed = kept or replay.replay_history(path, head, work.paths, mailmap=work.mailmap)
        return replayed.owners(head, ignored) if replayed else None

    previous = None
    if not job.full:
        with get_database().session() as session:
            previous = ownership_store.load(session, repository_id=job.repository_id)
    return ownership.compute(
        path,
        head=work.head,
        paths=work.paths,
        mailmap=work.mailmap,
        rules_fingerprint=work.fingerprint,
        previous=previous,
        known=known,
    )


def run_now(
    *,
    organization_id: str,
    repository_id: str,
    full: bool = False,
    trigger: str = "cli",
    on_progress: ProgressCallback | None = None,
) -> str:
    """Queue and run an analysis in this process (the CLI); returns its id.

    Registered as a worker meanwhile (`core.workers`), so a CLI killed mid-analysis has its job taken again
    by the next worker that finds it gone, not after the lease."""
    me = workers.Registration(get_database(), role="analysis")
    me.start()
    try:
        worker = me.id or worker_name()
        with get_database().session() as session:
            analysis = enqueue(
                session, organization_id=organization_id, repository_id=repository_id, trigger=trigger, full=full
            )
            analysis_id = analysis.id
            claimed = claim(session, worker=worker, only=analysis_id)
            if not claimed:
                raise Conflict(f"repository {repository_id} is being analysed by another worker right now")
        execute(analysis_id=analysis_id, worker=worker, on_progress=on_progress)
    finally:
        me.stop()
    return analysis_id
