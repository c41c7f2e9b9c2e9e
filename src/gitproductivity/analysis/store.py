"""Storing a run in ONE transaction: rollups, new developers, `metrics.updated` per changed developer, the
repository's new analysed head and `analysis.complete` — an event exists exactly when what it describes was
committed. The repository row is locked first; if someone stored a newer analysis meanwhile, the caller reads
again from the new base (`StaleBase`).
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session

from gitproductivity.analysis import reader
from gitproductivity.analysis.identities import BotMatcher, canonical_email
from gitproductivity.analysis.jobs import Job, LeaseLost, complete_data, finish_recovered
from gitproductivity.analysis.models import Analysis, AnalysisStatus
from gitproductivity.analysis.plan import Plan
from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import bulk_insert
from gitproductivity.core.settings import get_settings
from gitproductivity.developers import service as developers
from gitproductivity.developers.models import Developer, DeveloperEmail
from gitproductivity.events import service as events
from gitproductivity.metrics import service as metrics
from gitproductivity.metrics.models import DailyRollup
from gitproductivity.repositories.models import Repository


class StaleBase(Exception):
    """The repository was analysed by someone else since we started reading; read again."""


def _day(ordinal: int) -> date:
    return date(1970, 1, 1) + timedelta(days=ordinal)


def _ts(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def save(
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
    if analysis is None or analysis.status != AnalysisStatus.RUNNING or analysis.worker != worker:
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
    news = []
    for dev_id in sorted(changed):
        dev = devs[dev_id]
        old, new = before.get(dev_id, metrics.Totals()), after.get(dev_id, metrics.Totals())
        delta = new.delta(old)
        if dev.is_bot or (not any(delta.values()) and old.as_dict() == new.as_dict()):
            continue  # bots are not developers; unchanged totals are not news
        news.append(metrics.metrics_updated(dev, repository_id=repo.id, analysis_id=analysis.id, new=new, old=old))
    events.emit_many(session, organization_id=job.organization_id, data=news)
    updated = len(news)
    now = utcnow()
    repo.last_commit = plan.head
    repo.rules_fingerprint = plan.fingerprint
    repo.last_analysed_at = now
    if plan.branch and not repo.branch:
        repo.default_branch = plan.branch
    fetch_ms, read_ms, started = timings
    analysis.status = AnalysisStatus.SUCCEEDED
    analysis.mode = plan.mode
    analysis.reason = plan.reason
    analysis.branch = plan.branch
    analysis.base_commit = base
    analysis.head_commit = plan.head
    analysis.commits_total = analysis.commits_done = analysis.commits_analysed = tally.commits
    analysis.new_commits = plan.new_commits
    analysis.developers_updated = updated
    analysis.skipped_commits = tally.issues.skipped_commits
    analysis.adjusted_commits = tally.issues.adjusted_commits
    analysis.commit_issues = tally.issues.as_json() if tally.issues.skipped or tally.issues.adjusted else None
    analysis.fetch_ms, analysis.read_ms = fetch_ms, read_ms
    analysis.store_ms = int((time.monotonic() - t0) * 1000)
    analysis.finished_at = now
    analysis.lease_expires_at = None
    analysis.error = None
    finish_recovered(session, analysis, repo)
    session.flush()
    events.emit(
        session, organization_id=job.organization_id, data=complete_data(analysis, duration=time.monotonic() - started)
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
    found = []
    for email in sorted(tally.names):
        if email not in known:
            name = tally.names[email][1].strip() or email
            found.append((email, name[:200], is_bot(name, email)))
    added = developers.create_found(
        session, organization_id=organization_id, people=[(name, email, bot) for email, name, bot in found]
    )
    known.update((email, dev.id) for (email, _name, _bot), dev in zip(found, added, strict=True))
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
    """A full read writes many rows: `core.db.bulk_insert` (COPY on PostgreSQL, the driver's executemany on
    SQLite), no ORM objects and none of SQLAlchemy's per-row statement machinery."""
    values = [_row_values(job, dev, day, v) for (dev, day), v in rows.items()]
    bulk_insert(session, DailyRollup.metadata.tables[DailyRollup.__tablename__], values)


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
