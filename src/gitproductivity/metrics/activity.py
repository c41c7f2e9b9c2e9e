"""Languages and hours of the week: sums of `language_rollups` and `hour_rollups` over any range (docs/metrics.md).

Filtered like every metric: the organisation, one repository or all, one team's developers or everyone, one
developer, inclusive UTC days (the day of the author date, as in the daily rollups). Bots are left out of team
and organisation sums unless asked for; a developer asked for by id is shown whatever they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import BigInteger, cast, delete, func, select
from sqlalchemy.orm import Session

from gitproductivity.metrics.activity_models import HourRollup, LanguageRollup
from gitproductivity.metrics.service import Scope

HOURS_PER_WEEK = 168
#: Languages carried per developer in the metrics API and the CLI, most lines changed first.
TOP_LANGUAGES = 10


@dataclass
class LanguageTotals:
    language: str
    lines_added: int
    lines_deleted: int
    files_changed: int

    @property
    def lines_changed(self) -> int:
        return self.lines_added + self.lines_deleted


def _ordered(found: Iterable[LanguageTotals]) -> list[LanguageTotals]:
    """Most lines changed first, then most files, then by name: the same order for equal figures every time."""
    return sorted(found, key=lambda t: (-t.lines_changed, -t.files_changed, t.language))


def languages(session: Session, scope: Scope) -> list[LanguageTotals]:
    """Every language with lines in the scope, most lines changed first."""
    scope.check(session)
    stmt: Any = select(
        LanguageRollup.language,
        cast(func.sum(LanguageRollup.lines_added), BigInteger),
        cast(func.sum(LanguageRollup.lines_deleted), BigInteger),
        cast(func.sum(LanguageRollup.files_changed), BigInteger),
    )
    stmt = scope.where(stmt, LanguageRollup).group_by(LanguageRollup.language)
    return _ordered(LanguageTotals(lang, int(a), int(d), int(f)) for lang, a, d, f in session.execute(stmt))


def top_languages(
    session: Session,
    *,
    organization_id: str,
    developer_ids: Iterable[str],
    repository_id: str | None = None,
    start: date | None = None,
    end: date | None = None,
    top: int = TOP_LANGUAGES,
) -> dict[str, list[LanguageTotals]]:
    """Each developer's `top` languages in the scope (one query for a page of developers); the scope was checked
    by the caller."""
    ids = sorted(set(developer_ids))
    if not ids:
        return {}
    stmt = select(
        LanguageRollup.developer_id,
        LanguageRollup.language,
        cast(func.sum(LanguageRollup.lines_added), BigInteger),
        cast(func.sum(LanguageRollup.lines_deleted), BigInteger),
        cast(func.sum(LanguageRollup.files_changed), BigInteger),
    ).where(LanguageRollup.organization_id == organization_id, LanguageRollup.developer_id.in_(ids))
    if repository_id:
        stmt = stmt.where(LanguageRollup.repository_id == repository_id)
    if start:
        stmt = stmt.where(LanguageRollup.day >= start)
    if end:
        stmt = stmt.where(LanguageRollup.day <= end)
    found: dict[str, list[LanguageTotals]] = {}
    for dev, lang, a, d, f in session.execute(stmt.group_by(LanguageRollup.developer_id, LanguageRollup.language)):
        found.setdefault(dev, []).append(LanguageTotals(lang, int(a), int(d), int(f)))
    return {dev: _ordered(rows)[:top] for dev, rows in found.items()}


def hours(session: Session, scope: Scope) -> list[int]:
    """Commits per hour of the week in each author's own time zone: 168 counts, Monday 00:00 first."""
    scope.check(session)
    stmt: Any = select(HourRollup.hour, cast(func.sum(HourRollup.commits), BigInteger))
    counts = [0] * HOURS_PER_WEEK
    for hour, n in session.execute(scope.where(stmt, HourRollup).group_by(HourRollup.hour)):
        if 0 <= hour < HOURS_PER_WEEK:
            counts[hour] = int(n)
    return counts


def move_developer(session: Session, *, source_id: str, target_id: str) -> None:
    """Merging two developers: the source's languages and hours are added into the target's."""
    models: tuple[tuple[Any, str], ...] = ((LanguageRollup, "language"), (HourRollup, "hour"))
    for model, key in models:
        target = {
            (r.repository_id, r.day, getattr(r, key)): r
            for r in session.scalars(select(model).where(model.developer_id == target_id))
        }
        moved: list[dict[str, Any]] = []
        figures = ("lines_added", "lines_deleted", "files_changed") if model is LanguageRollup else ("commits",)
        for row in session.scalars(select(model).where(model.developer_id == source_id)):
            mine = target.get((row.repository_id, row.day, getattr(row, key)))
            if mine is None:
                moved.append(
                    {c: getattr(row, c) for c in ("repository_id", "day", "organization_id", key, *figures)}
                    | {"developer_id": target_id}
                )
            else:
                for name in figures:
                    setattr(mine, name, getattr(mine, name) + getattr(row, name))
        session.execute(delete(model).where(model.developer_id == source_id))
        session.add_all(model(**values) for values in moved)
    session.flush()
