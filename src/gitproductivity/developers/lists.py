"""Lists of developers as plain values (the API's pages): sorted, searched, paged by keyset, with totals.

Read with Core statements on the session's connection, no ORM objects: loading 50 developers and their e-mails as
ORM objects cost more than the rest of the request together (docs/benchmarks.md, "The API's own cost").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, and_, bindparam, func, or_, select, true
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from gitproductivity.core.db import contains
from gitproductivity.core.pagination import Sort, keyset_after, keyset_order, sort_cursor, sort_cursor_values
from gitproductivity.developers.models import Developer, DeveloperCount, DeveloperEmail

_DEVELOPERS = cast(Table, Developer.__table__)
_EMAILS = cast(Table, DeveloperEmail.__table__)
_COUNTS = cast(Table, DeveloperCount.__table__)


#: What `GET /v1/developers` can be sorted by (`sort=`, a leading `-` for descending); ties are ordered by id.
SORTS = ("id", "name", "email", "created_at")
_SORT_KINDS: dict[str, type] = {"id": str, "name": str, "email": str, "created_at": datetime}


def _sort_column(field: str) -> Any:
    if field == "name":
        return func.lower(Developer.name)  # any case: "ann" between "Adam" and "Bob"
    return getattr(Developer, field)


def matching(text: str) -> ColumnElement[bool]:
    """Developers whose name or primary e-mail contains `text`, in any case (LIKE's wildcards taken literally)."""
    pattern = contains(text.strip()[:200])
    return or_(func.lower(Developer.name).like(pattern, escape="!"), Developer.email.like(pattern, escape="!"))


def list_fields(
    session: Session,
    *,
    organization_id: str,
    sort: Sort | None = None,
    q: str | None = None,
    after: str | None = None,
    limit: int = 50,
    include_removed: bool = False,
    within: Select[Any] | None = None,
) -> tuple[list[dict[str, Any]], int, str | None]:
    """A page of developers as plain values (the API's page), the number matching, and the next page's cursor:
    `list_window` read forwards."""
    rows, total, cursor, _ = list_window(
        session,
        organization_id=organization_id,
        sort=sort,
        q=q,
        after=after,
        limit=limit,
        include_removed=include_removed,
        within=within,
    )
    return rows, total, cursor


def list_window(
    session: Session,
    *,
    organization_id: str,
    sort: Sort | None = None,
    q: str | None = None,
    after: str | None = None,
    before: str | None = None,
    limit: int = 50,
    include_removed: bool = False,
    within: Select[Any] | None = None,
) -> tuple[list[dict[str, Any]], int, str | None, str | None]:
    """A page of developers as plain values, the number matching, and the cursors of the next and the previous
    page (None at either end).

    Sorted by `sort` (default: id, i.e. the order they were added), ties by id; `q` searches names and e-mails;
    `within` limits the list to those ids (a team's); `before` is the `limit` rows just before its row, in the
    same order. Each row has `aliases` (its non-primary e-mails, sorted), read with a second statement and no ORM
    objects: loading 50 developers and their e-mails as ORM objects cost more than the rest of the request together.
    """
    sort = sort or Sort(field="id", descending=False)
    if before is None and sort.field == "id" and not sort.descending and not (q and q.strip()) and within is None:
        rows, total, following = _list_by_id(session, organization_id, sort, after, limit, include_removed)
        previous = sort_cursor(sort, [rows[0]["id"]]) if after is not None and rows else None
        return rows, total, following, previous
    keys: list[tuple[Any, bool]] = [(_sort_column(sort.field), sort.descending)]
    if sort.field != "id":
        keys.append((Developer.id, False))
    where = [Developer.organization_id == organization_id]
    if not include_removed:
        where.append(Developer.removed_at.is_(None))
    if q and q.strip():
        where.append(matching(q))
    if within is not None:
        where.append(Developer.id.in_(within))
    if (q and q.strip()) or within is not None:
        total = session.scalar(select(func.count()).select_from(Developer).where(*where)) or 0
    else:  # the whole list: the organisation's number, kept by the database (`_counted`)
        total = session.scalar(_counted(include_removed), {"organization_id": organization_id}) or 0
    if before is not None:  # the same key in the other direction: the rows before the cursor, nearest first
        keys = [(column, not descending) for column, descending in keys]
    cursor_in = before if before is not None else after
    if cursor_in is not None:
        kinds = [_SORT_KINDS[sort.field]] + ([str] if sort.field != "id" else [])
        field = "before" if before is not None else "after"
        where.append(keyset_after(keys, sort_cursor_values(cursor_in, sort, kinds, field=field)))
    stmt = select(
        Developer.id,
        Developer.name,
        Developer.email,
        Developer.is_bot,
        Developer.created_at,
        Developer.removed_at,
        *[column.label(f"k{i}") for i, (column, _) in enumerate(keys)],
    ).where(*where)
    found = list(session.execute(stmt.order_by(*keyset_order(keys)).limit(limit + 1)))
    more = len(found) > limit
    found = found[:limit]
    if before is not None:
        found.reverse()
    has_next, has_previous = (True, more) if before is not None else (more, after is not None)

    def cursor(row: Any) -> str:
        return sort_cursor(sort, [getattr(row, f"k{i}") for i in range(len(keys))])

    next_cursor = cursor(found[-1]) if has_next and found else None
    previous_cursor = cursor(found[0]) if has_previous and found else None
    rows = [{k: v for k, v in row._asdict().items() if not (k[0] == "k" and k[1:].isdigit())} for row in found]
    aliases = aliases_of(session, developer_ids=[row["id"] for row in rows])
    for row in rows:
        row["aliases"] = aliases[row["id"]]
    return rows, total, next_cursor, previous_cursor


def _counted(include_removed: bool) -> Select[Any]:
    """The organisation's number of developers (current ones, or all with `include_removed`): the sum of its
    `developer_counts` rows, which triggers on `developers` keep exact (migration 0019_developer_counts). A few
    rows read by the primary key, where counting read every developer of the organisation (docs/benchmarks.md,
    "Exact totals at thousands of developers")."""
    column = _COUNTS.c.total if include_removed else _COUNTS.c.present
    found = func.coalesce(func.sum(column), 0).label("total")
    return select(found).where(_COUNTS.c.organization_id == bindparam("organization_id"))


def _page_statement(include_removed: bool, after: bool, postgresql: bool) -> Select[Any]:
    """The default list's page (by id, no search), its total and its developers' aliases in one statement (one
    round trip on PostgreSQL, and no per-request rendering of an `IN` list of ids): the total (`_counted`), LEFT
    JOINed with the page (`limit` + 1 developers, by the keyset index) so an empty page still carries the total.
    The aliases: on PostgreSQL an array per developer from a correlated subquery (an index probe per row of the
    page, whatever the planner thinks of the join; a join was planned as a scan of every e-mail of every
    organization when few are aliases), on SQLite a LEFT JOIN (a row per alias, looked up by the index). Built
    once, values bound."""
    where = [_DEVELOPERS.c.organization_id == bindparam("organization_id")]
    if not include_removed:
        where.append(_DEVELOPERS.c.removed_at.is_(None))
    total = _counted(include_removed).subquery("total")
    if after:
        where.append(_DEVELOPERS.c.id > bindparam("after"))
    fields = [_DEVELOPERS.c[name] for name in _FIELDS]
    page = select(*fields).where(*where).order_by(_DEVELOPERS.c.id).limit(bindparam("limit")).subquery("page")
    aka = _EMAILS.alias("aka")
    of_row = and_(aka.c.developer_id == page.c.id, aka.c.is_primary.is_(False))
    if postgresql:
        aliases = select(func.array_agg(aggregate_order_by(aka.c.email, aka.c.email))).where(of_row)
        columns = [total.c.total, *[page.c[name] for name in _FIELDS], aliases.scalar_subquery().label("aka")]
        return select(*columns).select_from(total.outerjoin(page, true())).order_by(page.c.id)
    columns = [total.c.total, *[page.c[name] for name in _FIELDS], aka.c.email.label("aka")]
    joined = total.outerjoin(page, true()).outerjoin(aka, of_row)
    return select(*columns).select_from(joined).order_by(page.c.id, aka.c.email)


_FIELDS = ("id", "name", "email", "is_bot", "created_at", "removed_at")
_BY_ID = {
    (include_removed, after, postgresql): _page_statement(include_removed, after, postgresql)
    for include_removed in (False, True)
    for after in (False, True)
    for postgresql in (False, True)
}
_ALIASES = (
    select(_EMAILS.c.developer_id, _EMAILS.c.email)
    .where(_EMAILS.c.developer_id.in_(bindparam("ids", expanding=True)), _EMAILS.c.is_primary.is_(False))
    .order_by(_EMAILS.c.email)
)


def _list_by_id(
    session: Session, organization_id: str, sort: Sort, after: str | None, limit: int, include_removed: bool
) -> tuple[list[dict[str, Any]], int, str | None]:
    """`list_fields` for the default list (by id, no search, no `within`): the same page, cursor and total from
    one statement built once (`_BY_ID`), run on the session's connection."""
    params: dict[str, Any] = {"organization_id": organization_id, "limit": limit + 1}
    if after is not None:
        params["after"] = sort_cursor_values(after, sort, [str])[0]
    connection = session.connection()
    postgresql = connection.dialect.name == "postgresql"
    found = connection.execute(_BY_ID[include_removed, after is not None, postgresql], params).all()
    total = found[0][0] if found else 0
    rows: list[dict[str, Any]] = []
    for row in found:
        if row[1] is None:
            continue  # an empty page: the one row carries only the total
        if postgresql:  # a row per developer, its aliases an array (NULL for none)
            rows.append({**dict(zip(_FIELDS, row[1:7], strict=True)), "aliases": list(row[7] or ())})
            continue
        if not rows or rows[-1]["id"] != row[1]:  # a row per alias (one, with NULL, for none)
            rows.append({**dict(zip(_FIELDS, row[1:7], strict=True)), "aliases": []})
        if row[7] is not None:
            rows[-1]["aliases"].append(row[7])
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = sort_cursor(sort, [rows[-1]["id"]]) if more else None
    return rows, total, cursor


def aliases_of(session: Session, *, developer_ids: Sequence[str]) -> dict[str, list[str]]:
    """The non-primary e-mails of these developers, sorted (a page of a list: one statement)."""
    found: dict[str, list[str]] = {dev_id: [] for dev_id in developer_ids}
    if found:
        for developer_id, email in session.connection().execute(_ALIASES, {"ids": list(found)}):
            found[developer_id].append(email)
    return found
