"""Storing a run in ONE transaction: rollups, new developers, `metrics.updated` per changed developer, the
repository's new analysed head and `analysis.complete` — an event exists exactly when what it describes was
committed. The repository row is locked first; if someone stored a newer analysis meanwhile, the caller reads
again from the new base (`StaleBase`).
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Dialect, Table, delete, select, tuple_
from sqlalchemy.orm import Session

from gitproductivity.analysis import activity_store, categories_rollup, ownership_store, reader
from gitproductivity.analysis import ownership as provenance
from gitproductivity.analysis.identities import BotMatcher, canonical_email
from gitproductivity.analysis.jobs import Job, LeaseLost, complete_data, finish_recovered
from gitproductivity.analysis.models import Analysis, AnalysisStatus
from gitproductivity.analysis.plan import Plan
from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import bind_values, bulk_write
from gitproductivity.core.settings import get_settings
from gitproductivity.developers import service as developers
from gitproductivity.developers.models import Developer, DeveloperEmail
from gitproductivity.events import service as events
from gitproductivity.events.payloads import DeveloperAdded
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
    ownership: provenance.Result | None = None,
) -> None:
    # A full read's rollups are made ready to write before the first statement, i.e. before SQLite's write lock
    # is taken: converting tens of thousands of rows is most of the Python work of a store. `store_ms` is what
    # follows: the transaction, while other writers wait.
    ready = _bind_rollups(session.get_bind().dialect, job, tally) if plan.mode == "full" else None
    t0 = time.monotonic()
    repo = session.scalar(select(Repository).where(Repository.id == job.repository_id).with_for_update())
    assert repo is not None
    if repo.last_commit != base or repo.rules_fingerprint != seen_fingerprint:
        raise StaleBase("the repository was analysed meanwhile")
    analysis = session.scalar(select(Analysis).where(Analysis.id == job.analysis_id).with_for_update())
    if analysis is None or analysis.status != AnalysisStatus.RUNNING or analysis.worker != worker:
        raise LeaseLost(job.analysis_id)

    names = dict(tally.names)
    for email, seen in (ownership.names if ownership else {}).items():  # authors of lines only (first-parent runs)
        if email not in names or seen[0] > names[email][0]:
            names[email] = seen
    owner, added = _resolve_identities(session, job.organization_id, names)
    if ready is not None:
        bound = _by_developer(session.get_bind().dialect, job, tally, ready, owner)
        touched = {dev for dev, _ in bound}
        before = metrics.repository_totals(session, repository_id=repo.id)
        session.execute(delete(DailyRollup).where(DailyRollup.repository_id == repo.id))
        bulk_write(session, _ROLLUPS, _COLUMNS, [bound[key] for key in sorted(bound)])  # in primary-key order
    else:
        rows = _merge(tally, owner)
        touched = {dev for dev, _ in rows}
        before = metrics.repository_totals(session, repository_id=repo.id, developer_ids=touched)
        _upsert(session, job, rows)
    activity_store.save(  # languages and hours of the week (empty when turned off)
        session,
        organization_id=job.organization_id,
        repository_id=repo.id,
        languages=tally.languages,
        hours=tally.hours,
        owner=owner,
        full=ready is not None,
    )
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
    updated = len(news)
    if ownership is not None:
        ownership_store.save(
            session, organization_id=job.organization_id, repository_id=repo.id, result=ownership, owner=owner
        )
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
    # Every event last, in one batch, in the order they always had (new developers, their metrics, the analysis);
    # they are contiguous in the feed, which serves them once this transaction has committed (events.service).
    done = complete_data(analysis, duration=time.monotonic() - started)
    events.emit_many(session, organization_id=job.organization_id, data=[*added, *news, done])


def _resolve_identities(
    session: Session, organization_id: str, names: dict[str, tuple[int, str]]
) -> tuple[dict[str, str], list[DeveloperAdded]]:
    """identity -> developer id; authors seen for the first time become developers (bots flagged as such), whose
    `developer.added` events are returned for the caller to emit."""
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
    for email in sorted(names):
        if email not in known:
            name = names[email][1].strip() or email
            found.append((email, name[:200], is_bot(name, email)))
    devs, added = developers.create_found(
        session, organization_id=organization_id, people=[(name, email, bot) for email, name, bot in found]
    )
    known.update((email, dev.id) for (email, _name, _bot), dev in zip(found, devs, strict=True))
    return {email: known[email] for email in names}, added


_ROLLUPS = cast(Table, DailyRollup.__table__)
_COLUMNS = (
    "repository_id",
    "developer_id",
    "day",
    "organization_id",
    "commits",
    "merges",
    "lines_added",
    "lines_deleted",
    "files_changed",
    "first_commit_at",
    "last_commit_at",
    *categories_rollup.COLUMNS,
)


def _row(job: Job, dev_id: str | None, day: int, v: list[int]) -> tuple[Any, ...]:
    return (
        job.repository_id,
        dev_id,
        _day(day),
        job.organization_id,
        v[reader.COMMITS],
        v[reader.MERGES],
        v[reader.ADDED],
        v[reader.DELETED],
        v[reader.FILES],
        _ts(v[reader.FIRST]),
        _ts(v[reader.LAST]),
        *categories_rollup.extra_values(v),
    )


def _row_values(job: Job, dev_id: str, day: int, v: list[int]) -> dict[str, Any]:
    return dict(zip(_COLUMNS, _row(job, dev_id, day, v), strict=True))


def _bind_rollups(dialect: Dialect, job: Job, tally: reader.Tally) -> dict[tuple[str, int], list[Any]]:
    """Every (identity, day) row of a full read through the columns' bind processors (`core.db.bind_values`),
    its developer left open (None) until identities are resolved under the lock."""
    rows = (_row(job, None, day, v) for (_email, day), v in tally.days.items())
    return dict(zip(tally.days, bind_values(dialect, _ROLLUPS, _COLUMNS, rows), strict=True))


def _by_developer(
    dialect: Dialect,
    job: Job,
    tally: reader.Tally,
    ready: dict[tuple[str, int], list[Any]],
    owner: dict[str, str],
) -> dict[tuple[str, int], list[Any]]:
    """`ready` keyed by (developer, day). Where several identities of one developer (aliases) share a day, their
    raw values are summed (`_merge`) and that one row is bound again."""
    out: dict[tuple[str, int], list[Any]] = {}
    shared: set[tuple[str, int]] = set()
    for (email, day), values in ready.items():
        key = (owner[email], day)
        if key in out:
            shared.add(key)
        values[1] = key[0]
        out[key] = values
    if shared:
        merged = _merge(tally, owner)
        rows = [_row(job, dev, day, merged[(dev, day)]) for dev, day in shared]
        out.update(zip(shared, bind_values(dialect, _ROLLUPS, _COLUMNS, rows), strict=True))
    return out


def _merge(tally: reader.Tally, owner: dict[str, str]) -> dict[tuple[str, int], list[int]]:
    """The read's (identity, day) values summed per (developer, day)."""
    rows: dict[tuple[str, int], list[int]] = {}
    for (email, day), values in tally.days.items():
        key = (owner[email], day)
        mine = rows.get(key)
        if mine is None:
            rows[key] = list(values)
        else:
            for i in range(5):
                mine[i] += values[i]
            for i, value in zip(categories_rollup.EXTRA, categories_rollup.extra_values(values), strict=True):
                if len(mine) > i:
                    mine[i] += value
            mine[5] = min(mine[5], values[5])
            mine[6] = max(mine[6], values[6])
    return rows


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
        for name, value in zip(categories_rollup.COLUMNS, categories_rollup.extra_values(v), strict=True):
            setattr(row, name, (getattr(row, name) or 0) + value)
