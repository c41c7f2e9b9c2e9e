"""Per-developer totals as a table the database sorts, searches and pages (`GET /v1/metrics/developers`).

Every developer's totals are one aggregate over the daily rollups; sorting by any of them, filtering by name or
e-mail, counting the rows and cutting a page after the cursor all happen in that one SQL statement, so a page
of 50 among 2,500 developers sends 50 rows to Python, not 2,500.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, cast, func, select
from sqlalchemy.orm import Session

from gitproductivity.core.pagination import (
    Sort,
    keyset_after,
    keyset_order,
    parse_sort,
    sort_cursor,
    sort_cursor_values,
)
from gitproductivity.developers import service as developers
from gitproductivity.developers.models import Developer
from gitproductivity.metrics.models import DailyRollup
from gitproductivity.metrics.service import COUNTERS, check_scope, in_scope

#: What the table can be sorted by (`sort=`, a leading `-` for descending). Ties are ordered by name (any case),
#: then by id, so that paging is exact however many rows tie.
SORTS = ("name", "email", *COUNTERS, "active_days", "first_commit_at", "last_commit_at")
DEFAULT_SORT = "-commits"
#: The Developers page lists every current developer, with or without activity: sorted by any figure, or by when
#: they were added (first and last commit are empty for some, so not those).
EVERYONE_SORTS = ("name", "email", *COUNTERS, "active_days", "created_at")
_KINDS: dict[str, type] = {
    "name": str,
    "email": str,
    "first_commit_at": datetime,
    "last_commit_at": datetime,
    "created_at": datetime,
}
_TOTALS = (*COUNTERS, "active_days", "first_commit_at", "last_commit_at")


@dataclass(frozen=True)
class Window:
    """A page of the table: its rows, the number of rows in the whole table, the cursors of the pages after and
    before it (None at either end), and, for the last page, the position of its first row."""

    rows: list[dict[str, Any]]
    total: int
    next_cursor: str | None
    previous_cursor: str | None
    start: int | None = None


def developers_page(
    session: Session, *, sort: Sort, after: str | None = None, limit: int = 50, **scope: Any
) -> tuple[list[dict[str, Any]], int, str | None]:
    """`developers_window` read forwards only: the rows, the total and the next page's cursor."""
    window = developers_window(session, sort=sort, after=after, limit=limit, **scope)
    return window.rows, window.total, window.next_cursor


def developers_window(
    session: Session,
    *,
    organization_id: str,
    sort: Sort,
    repository_id: str | None = None,
    team_id: str | None = None,
    start: date | None = None,
    end: date | None = None,
    include_bots: bool = False,
    q: str | None = None,
    after: str | None = None,
    before: str | None = None,
    last: bool = False,
    limit: int = 50,
    everyone: bool = False,
) -> Window:
    """A page of developers with activity in the range and their totals, the number of such developers, and the
    cursors of the pages after and before it. `everyone`: every current developer instead, zeros for those
    without activity (the Developers page).

    `after` pages forwards, `before` backwards (the `limit` rows just before the cursor's row); `last` is the last
    page of the table cut into pages of `limit` from its start (so it may hold fewer rows), with its `start`.
    """
    allowed = EVERYONE_SORTS if everyone else SORTS
    if sort.field not in allowed:
        parse_sort(sort.text, allowed=allowed, default=DEFAULT_SORT)  # the 422 that lists them
    check_scope(
        session, organization_id=organization_id, repository_id=repository_id, team_id=team_id, start=start, end=end
    )
    # Sum the rollups per developer first (SQLite then reads them in the order of the (organisation, developer,
    # day) index, without sorting them), and join the developers to those sums: 2,500 lookups, not one a rollup.
    columns: list[Any] = [
        DailyRollup.developer_id,
        *[cast(func.sum(getattr(DailyRollup, name)), BigInteger).label(name) for name in COUNTERS],
        func.count(func.distinct(DailyRollup.day)).label("active_days"),
        func.min(DailyRollup.first_commit_at).label("first_commit_at"),
        func.max(DailyRollup.last_commit_at).label("last_commit_at"),
    ]
    sums = select(*columns)
    sums = in_scope(
        sums, organization_id=organization_id, repository_id=repository_id, team_id=team_id, start=start, end=end
    )
    if q and q.strip():
        # Sum only the matching developers' rollups. PostgreSQL cannot estimate a substring match (it guesses a
        # handful of rows) and, filtering only after the sums, joined them to the developers row by row.
        matching = select(Developer.id).where(Developer.organization_id == organization_id, developers.matching(q))
        sums = sums.where(DailyRollup.developer_id.in_(matching))
    sums = sums.group_by(DailyRollup.developer_id)
    totals = sums.subquery()
    figures = [
        *[func.coalesce(totals.c[name], 0).label(name) for name in (*COUNTERS, "active_days")],
        totals.c.first_commit_at,  # None for a developer without activity (`everyone` only)
        totals.c.last_commit_at,
    ]
    rows = (
        select(
            Developer.id.label("developer_id"),
            Developer.name,
            Developer.email,
            Developer.is_bot,
            Developer.created_at,
            func.lower(Developer.name).label("name_key"),
            *figures,
            func.count().over().label("total"),  # the developers matching, before paging
        )
        .join(totals, totals.c.developer_id == Developer.id, isouter=everyone)
        .where(Developer.organization_id == organization_id)
    )
    if everyone:
        rows = rows.where(Developer.removed_at.is_(None))
    if not include_bots:
        rows = rows.where(Developer.is_bot.is_(False))
    if q and q.strip():
        rows = rows.where(developers.matching(q))
    table = rows.subquery()

    column = table.c.name_key if sort.field == "name" else table.c[sort.field]
    keys: list[tuple[Any, bool]] = [(column, sort.descending)]
    kinds: list[type] = [_KINDS.get(sort.field, int)]
    if sort.field not in ("name", "email"):
        keys.append((table.c.name_key, False))
        kinds.append(str)
    keys.append((table.c.developer_id, False))
    kinds.append(str)

    stmt = select(table)
    backwards = before is not None or last
    if backwards:  # the same key in the other direction: the rows before the cursor, nearest first
        keys = [(column, not descending) for column, descending in keys]
    cursor_in = before if before is not None else after
    if cursor_in is not None:
        field = "before" if before is not None else "after"
        stmt = stmt.where(keyset_after(keys, sort_cursor_values(cursor_in, sort, kinds, field=field)))
    found = list(session.execute(stmt.order_by(*keyset_order(keys)).limit(limit + 1)))
    # Past the end, the count is in no row: count again.
    total = int(found[0].total) if found else session.scalar(select(func.count()).select_from(table)) or 0
    more = len(found) > limit
    found = found[:limit]
    position = None
    if backwards:
        if last:
            position = (total - 1) // limit * limit if total else 0
            found = found[: total - position]
            more = position > 0
        found.reverse()
    page = [
        {
            "developer_id": row.developer_id,
            "name": row.name,
            "email": row.email,
            "is_bot": row.is_bot,
            "created_at": row.created_at,
            "totals": {name: getattr(row, name) for name in _TOTALS},
        }
        for row in found
    ]
    has_next = (before is not None) if backwards else more
    has_previous = more if backwards else after is not None
    if not found:
        return Window(page, total, None, None, position)
    return Window(
        page,
        total,
        sort_cursor(sort, [getattr(found[-1], col.key) for col, _ in keys]) if has_next else None,
        sort_cursor(sort, [getattr(found[0], col.key) for col, _ in keys]) if has_previous else None,
        position,
    )
