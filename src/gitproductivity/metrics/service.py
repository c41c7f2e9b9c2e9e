"""Metrics are sums of daily rollups, so any range and any granularity is one query over small rows.

`active_days` is the number of distinct UTC days with at least one commit, merge or co-authored commit, across
whatever is being summed (two repositories on the same day are one active day). Bots are left out unless asked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session, lazyload

from gitproductivity.core.clock import isoformat_z
from gitproductivity.core.errors import ValidationFailed
from gitproductivity.core.ids import require_id
from gitproductivity.developers import service as developers
from gitproductivity.developers.models import Developer
from gitproductivity.events.payloads import MetricsDelta, MetricsTotals, MetricsUpdated
from gitproductivity.metrics.models import DailyRollup
from gitproductivity.repositories import service as repositories
from gitproductivity.teams import service as teams

#: Change categories (lines deleted or replaced, by origin; new work) and co-authored commits: docs/metrics.md.
CATEGORY_COUNTERS = ("new_work", "refactor", "rework", "help_others", "co_authored_commits")
COUNTERS = ("commits", "merges", "lines_added", "lines_deleted", "files_changed", *CATEGORY_COUNTERS)
GRANULARITIES = ("day", "week", "month")


@dataclass
class Totals:
    commits: int = 0
    merges: int = 0
    lines_added: int = 0
    lines_deleted: int = 0
    files_changed: int = 0
    active_days: int = 0
    first_commit_at: datetime | None = None
    last_commit_at: datetime | None = None
    new_work: int = 0
    refactor: int = 0
    rework: int = 0
    help_others: int = 0
    co_authored_commits: int = 0
    days: set[date] = field(default_factory=set, repr=False)

    def add_row(self, row: DailyRollup) -> None:
        for name in COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(row, name))
        self.days.add(row.day)
        self.active_days = len(self.days)
        if self.first_commit_at is None or row.first_commit_at < self.first_commit_at:
            self.first_commit_at = row.first_commit_at
        if self.last_commit_at is None or row.last_commit_at > self.last_commit_at:
            self.last_commit_at = row.last_commit_at

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(self, name) for name in (*COUNTERS, "active_days")}
        out["first_commit_at"] = self.first_commit_at
        out["last_commit_at"] = self.last_commit_at
        return out

    def delta(self, before: Totals) -> dict[str, int]:
        return {name: getattr(self, name) - getattr(before, name) for name in (*COUNTERS, "active_days")}


def repository_totals(
    session: Session, *, repository_id: str, developer_ids: Iterable[str] | None = None
) -> dict[str, Totals]:
    """Per-developer totals in one repository (for `metrics.updated`), summed by the database.

    Within one repository a developer has at most one row per day, so the row count is the active days.
    """
    stmt = select(
        DailyRollup.developer_id,
        *[func.sum(getattr(DailyRollup, name)) for name in COUNTERS],
        func.count(),
        func.min(DailyRollup.first_commit_at),
        func.max(DailyRollup.last_commit_at),
    ).where(DailyRollup.repository_id == repository_id)
    if developer_ids is not None:
        stmt = stmt.where(DailyRollup.developer_id.in_(list(developer_ids)))
    return {dev_id: _totals(values) for dev_id, *values in session.execute(stmt.group_by(DailyRollup.developer_id))}


def _check_range(start: date | None, end: date | None) -> None:
    if start and end and start > end:
        raise ValidationFailed("from must not be after to", details=[{"field": "from", "message": "after to"}])


def check_scope(
    session: Session,
    *,
    organization_id: str,
    repository_id: str | None = None,
    team_id: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> None:
    """The filters of a metrics query make sense: a range in order, the organisation's repository and team."""
    _check_range(start, end)
    if repository_id:
        require_id(repository_id, "repo", "repository")
        repositories.get(session, organization_id=organization_id, repository_id=repository_id)
    if team_id:
        teams.get(session, organization_id=organization_id, team_id=team_id)


def in_scope(
    stmt: Select[Any],
    *,
    organization_id: str,
    repository_id: str | None = None,
    team_id: str | None = None,
    start: date | None = None,
    end: date | None = None,
    model: Any = DailyRollup,
) -> Select[Any]:
    """`stmt` (over `model`: any rollup with organisation, repository, developer and day columns) limited to the
    organisation, a repository, a team's developers, a day range."""
    stmt = stmt.where(model.organization_id == organization_id)
    if repository_id:
        stmt = stmt.where(model.repository_id == repository_id)
    if team_id:
        stmt = stmt.where(model.developer_id.in_(teams.member_ids(team_id=team_id)))
    if start:
        stmt = stmt.where(model.day >= start)
    if end:
        stmt = stmt.where(model.day <= end)
    return stmt


@dataclass(frozen=True)
class Scope:
    """What a chart or card sums: an organisation, and optionally a repository, a team, one developer, a range of
    UTC days. Bots stay out of team and organisation sums unless asked for; a developer asked for by id is
    counted whatever they are."""

    organization_id: str
    repository_id: str | None = None
    team_id: str | None = None
    developer_id: str | None = None
    start: date | None = None
    end: date | None = None
    include_bots: bool = False

    def check(self, session: Session) -> None:
        """The filters name this organisation's repository, team and developer, and the range is in order."""
        check_scope(
            session,
            organization_id=self.organization_id,
            repository_id=self.repository_id,
            team_id=self.team_id,
            start=self.start,
            end=self.end,
        )
        if self.developer_id:
            require_id(self.developer_id, "dev", "developer")
            developers.get(session, organization_id=self.organization_id, developer_id=self.developer_id)

    def where(self, stmt: Any, model: Any = DailyRollup) -> Any:
        """`stmt` over `model` (a rollup) limited to the scope."""
        stmt = in_scope(
            stmt,
            organization_id=self.organization_id,
            repository_id=self.repository_id,
            team_id=self.team_id,
            start=self.start,
            end=self.end,
            model=model,
        )
        if self.developer_id:
            return stmt.where(model.developer_id == self.developer_id)
        if self.include_bots:
            return stmt
        # Usually a handful of ids: cheaper than joining every row.
        bots = select(Developer.id).where(Developer.organization_id == self.organization_id, Developer.is_bot.is_(True))
        return stmt.where(model.developer_id.not_in(bots))


def developers_summary(
    session: Session,
    *,
    organization_id: str,
    repository_id: str | None = None,
    team_id: str | None = None,
    start: date | None = None,
    end: date | None = None,
    include_bots: bool = False,
) -> list[tuple[Developer, Totals]]:
    """Every developer with activity in the range (inclusive UTC days), most commits first."""
    scope: dict[str, Any] = {"organization_id": organization_id, "repository_id": repository_id, "team_id": team_id}
    check_scope(session, **scope, start=start, end=end)
    # Sums per developer first, then the developers joined to them (see `metrics.table`: on SQLite, grouping by
    # the joined developer instead sorted every rollup).
    sums = select(
        DailyRollup.developer_id,
        *[func.sum(getattr(DailyRollup, name)) for name in COUNTERS],
        func.count(func.distinct(DailyRollup.day)),
        func.min(DailyRollup.first_commit_at),
        func.max(DailyRollup.last_commit_at),
    )
    totals = in_scope(sums, **scope, start=start, end=end).group_by(DailyRollup.developer_id).subquery()
    stmt = select(Developer, *list(totals.c)[1:]).join(totals, totals.c.developer_id == Developer.id)
    stmt = stmt.options(lazyload(Developer.emails))  # e-mails are not shown: do not load 2,500 sets of them
    if not include_bots:
        stmt = stmt.where(Developer.is_bot.is_(False))
    found = [(dev, _totals(values)) for dev, *values in session.execute(stmt)]
    return sorted(found, key=lambda item: (-item[1].commits, item[0].name, item[0].id))


def _totals(values: Sequence[Any]) -> Totals:
    """Totals from a row of sums in `COUNTERS` order, then the day count, first and last commit."""
    *sums, days, first, last = values
    totals = Totals(active_days=int(days), first_commit_at=first, last_commit_at=last)
    for name, value in zip(COUNTERS, sums, strict=True):
        setattr(totals, name, int(value or 0))
    return totals


def bucket_start(day: date, granularity: str) -> date:
    if granularity == "week":
        return day - timedelta(days=day.weekday())  # ISO weeks start on Monday
    if granularity == "month":
        return day.replace(day=1)
    return day


def developer_series(
    session: Session,
    *,
    organization_id: str,
    developer_id: str,
    granularity: str = "day",
    repository_id: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> tuple[Developer, Totals, list[tuple[date, Totals]]]:
    """One developer's totals and their buckets (only buckets with activity), oldest first."""
    if granularity not in GRANULARITIES:
        raise ValidationFailed(
            f"granularity must be one of {', '.join(GRANULARITIES)}",
            details=[{"field": "granularity", "message": f"one of {', '.join(GRANULARITIES)}"}],
        )
    _check_range(start, end)
    require_id(developer_id, "dev", "developer")
    dev = developers.get(session, organization_id=organization_id, developer_id=developer_id)
    if repository_id:
        require_id(repository_id, "repo", "repository")
        repositories.get(session, organization_id=organization_id, repository_id=repository_id)
    stmt = select(DailyRollup).where(
        DailyRollup.organization_id == organization_id, DailyRollup.developer_id == developer_id
    )
    if repository_id:
        stmt = stmt.where(DailyRollup.repository_id == repository_id)
    if start:
        stmt = stmt.where(DailyRollup.day >= start)
    if end:
        stmt = stmt.where(DailyRollup.day <= end)
    total = Totals()
    buckets: dict[date, Totals] = {}
    for row in session.scalars(stmt.order_by(DailyRollup.day)):
        total.add_row(row)
        buckets.setdefault(bucket_start(row.day, granularity), Totals()).add_row(row)
    return dev, total, sorted(buckets.items())


def move_developer(session: Session, *, source_id: str, target_id: str) -> set[str]:
    """Add every rollup of `source_id` into `target_id` (merging two developers); the repositories touched."""
    rows = list(session.scalars(select(DailyRollup).where(DailyRollup.developer_id == source_id)))
    if not rows:
        return set()
    existing = {
        (r.repository_id, r.day): r
        for r in session.scalars(select(DailyRollup).where(DailyRollup.developer_id == target_id))
    }
    moved: list[dict[str, Any]] = []
    for row in rows:
        mine = existing.get((row.repository_id, row.day))
        if mine is None:
            moved.append({c: getattr(row, c) for c in _COLUMNS} | {"developer_id": target_id})
            continue
        for name in COUNTERS:
            setattr(mine, name, getattr(mine, name) + getattr(row, name))
        mine.first_commit_at = min(mine.first_commit_at, row.first_commit_at)
        mine.last_commit_at = max(mine.last_commit_at, row.last_commit_at)
    session.execute(delete(DailyRollup).where(DailyRollup.developer_id == source_id))
    if moved:
        session.add_all(DailyRollup(**values) for values in moved)
    session.flush()
    return {r.repository_id for r in rows}


_COLUMNS = (
    "repository_id",
    "developer_id",
    "day",
    "organization_id",
    *COUNTERS,
    "first_commit_at",
    "last_commit_at",
)


def repositories_of(session: Session, *, developer_id: str) -> set[str]:
    return set(session.scalars(select(DailyRollup.repository_id).where(DailyRollup.developer_id == developer_id)))


def public(values: dict[str, Any]) -> dict[str, Any]:
    """Totals as they appear in event payloads (timestamps in the envelope's `…Z` form)."""
    return {k: isoformat_z(v) if isinstance(v, datetime) else v for k, v in values.items()}


def metrics_updated(
    developer: Developer, *, repository_id: str, analysis_id: str | None, new: Totals, old: Totals
) -> MetricsUpdated:
    """The one builder of `metrics.updated`: a developer's `new` totals in a repository and the change from `old`.

    `analysis_id` is None when the change did not come from an analysis (merging developers).
    """
    return MetricsUpdated(
        developer_id=developer.id,
        name=developer.name,
        email=developer.email,
        repository_id=repository_id,
        analysis_id=analysis_id,
        totals=MetricsTotals(**new.as_dict()),
        delta=MetricsDelta(**new.delta(old)),
    )


def team_series(
    session: Session,
    *,
    organization_id: str,
    granularity: str = "week",
    repository_id: str | None = None,
    team_id: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> dict[str, list[tuple[date, Totals]]]:
    """Every (non-bot) developer's buckets over a range in one query: `{developer_id: [(bucket, totals)]}`.

    The dashboard's team and per-developer charts are sums and slices of this.
    """
    if granularity not in GRANULARITIES:
        raise ValidationFailed(
            f"granularity must be one of {', '.join(GRANULARITIES)}",
            details=[{"field": "granularity", "message": f"one of {', '.join(GRANULARITIES)}"}],
        )
    scope: dict[str, Any] = {"organization_id": organization_id, "repository_id": repository_id, "team_id": team_id}
    check_scope(session, **scope, start=start, end=end)
    stmt = select(DailyRollup).join(Developer, Developer.id == DailyRollup.developer_id)
    stmt = in_scope(stmt.where(Developer.is_bot.is_(False)), **scope, start=start, end=end)
    found: dict[str, dict[date, Totals]] = {}
    for row in session.scalars(stmt.order_by(DailyRollup.day)):
        found.setdefault(row.developer_id, {}).setdefault(bucket_start(row.day, granularity), Totals()).add_row(row)
    return {dev_id: sorted(buckets.items()) for dev_id, buckets in found.items()}
