"""Developers and their email identities. Every change writes its event in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import contains, get_owned
from gitproductivity.core.emails import fold_email, normalize_email
from gitproductivity.core.errors import Conflict, NotFound
from gitproductivity.core.ids import new_id, require_id
from gitproductivity.core.pagination import Sort, keyset_after, keyset_order, sort_cursor, sort_cursor_values
from gitproductivity.developers.models import Developer, DeveloperEmail
from gitproductivity.events import service as events
from gitproductivity.events.payloads import DeveloperAdded, DeveloperRemoved


def event_data(developer: Developer) -> dict[str, object]:
    return {"developer_id": developer.id, "name": developer.name, "email": developer.email}


def get(session: Session, *, organization_id: str, developer_id: str) -> Developer:
    return get_owned(session, Developer, organization_id=organization_id, id=developer_id, what="developer")


def find_by_email(session: Session, *, organization_id: str, email: str) -> Developer | None:
    stmt = (
        select(Developer)
        .join(DeveloperEmail, DeveloperEmail.developer_id == Developer.id)
        .where(DeveloperEmail.organization_id == organization_id, DeveloperEmail.email == fold_email(email))
    )
    return session.scalar(stmt)


def search(session: Session, *, organization_id: str, query: str, limit: int = 20) -> list[Developer]:
    """Current developers whose name or e-mail contains `query` (any case), or whose id is `query`: suggestions."""
    text = query.strip()[:200]
    pattern = contains(text)
    stmt = select(Developer).where(
        Developer.organization_id == organization_id,
        Developer.removed_at.is_(None),
        or_(
            func.lower(Developer.name).like(pattern, escape="!"),
            Developer.email.like(pattern, escape="!"),
            Developer.id == text,
        ),
    )
    return list(session.scalars(stmt.order_by(Developer.name, Developer.id).limit(limit)))


def list_(
    session: Session,
    *,
    organization_id: str,
    after: str | None = None,
    limit: int = 50,
    include_removed: bool = False,
) -> list[Developer]:
    """Up to `limit + 1` developers after the cursor (the extra one tells the caller there is more)."""
    stmt = select(Developer).where(Developer.organization_id == organization_id)
    if not include_removed:
        stmt = stmt.where(Developer.removed_at.is_(None))
    if after:
        stmt = stmt.where(Developer.id > after)
    return list(session.scalars(stmt.order_by(Developer.id).limit(limit + 1)))


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
    total = session.scalar(select(func.count()).select_from(Developer).where(*where)) or 0
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


def aliases_of(session: Session, *, developer_ids: Sequence[str]) -> dict[str, list[str]]:
    """The non-primary e-mails of these developers, sorted (a page of a list: one statement)."""
    found: dict[str, list[str]] = {dev_id: [] for dev_id in developer_ids}
    if found:
        rows = session.execute(
            select(DeveloperEmail.developer_id, DeveloperEmail.email)
            .where(DeveloperEmail.developer_id.in_(list(found)), DeveloperEmail.is_primary.is_(False))
            .order_by(DeveloperEmail.email)
        )
        for developer_id, email in rows:
            found[developer_id].append(email)
    return found


def bots(session: Session, *, organization_id: str, limit: int = 200) -> list[Developer]:
    """Current bots by name (they are few; shown apart from people)."""
    stmt = select(Developer).where(
        Developer.organization_id == organization_id, Developer.is_bot.is_(True), Developer.removed_at.is_(None)
    )
    return list(session.scalars(stmt.order_by(func.lower(Developer.name), Developer.id).limit(limit)))


def any_current(session: Session, *, organization_id: str) -> bool:
    """Whether the organisation has any current developer (bots included)."""
    stmt = select(Developer.id).where(Developer.organization_id == organization_id, Developer.removed_at.is_(None))
    return session.scalar(stmt.limit(1)) is not None


#: Built once: constructing the statement cost as much as running it (a request adds one developer).
_TAKEN = select(DeveloperEmail.email, DeveloperEmail.developer_id).where(
    DeveloperEmail.organization_id == bindparam("organization_id"),
    DeveloperEmail.email.in_(bindparam("emails", expanding=True)),
)


def create(
    session: Session,
    *,
    organization_id: str,
    name: str,
    email: str,
    aliases: Sequence[str] = (),
    is_bot: bool = False,
    validate: bool = True,
) -> Developer:
    """Add a developer. An email of a removed developer brings that developer back (same id and history).

    `validate=False` is for identities found in git history, where addresses need not be valid.
    """
    primary = normalize_email(email) if validate else fold_email(email)
    others = [normalize_email(a, field="aliases") if validate else fold_email(a) for a in aliases]
    others = [a for a in dict.fromkeys(others) if a != primary]
    name = name.strip()

    found = session.execute(_TAKEN, {"organization_id": organization_id, "emails": [primary, *others]}).all()
    taken = {address: session.get_one(Developer, owner_id) for address, owner_id in found}
    previous = taken.get(primary)
    for address, owner in taken.items():
        if owner.removed_at is None:
            raise Conflict(f"{address} already belongs to developer {_who(owner)}", details=[{"field": "email"}])
        if owner is not previous:
            raise Conflict(f"{address} belongs to removed developer {_who(owner)}; add that address as its email")

    if previous is not None:
        dev = previous
        dev.name = name or dev.name
        dev.removed_at = None
        dev.is_bot = is_bot
    else:
        dev = Developer(
            id=new_id("dev"),
            organization_id=organization_id,
            name=name,
            email=primary,
            is_bot=is_bot,
            created_at=utcnow(),
        )
        session.add(dev)
        dev.emails.append(
            DeveloperEmail(id=new_id("dem"), organization_id=organization_id, email=primary, is_primary=True)
        )
    known = {e.email for e in dev.emails}
    for address in others:
        if address not in known:
            dev.emails.append(DeveloperEmail(id=new_id("dem"), organization_id=organization_id, email=address))
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"{primary} or one of its aliases was just added by another request") from None
    if not dev.is_bot:
        events.emit(session, organization_id=organization_id, data=DeveloperAdded.model_validate(event_data(dev)))
    return dev


def create_found(
    session: Session, *, organization_id: str, people: Sequence[tuple[str, str, bool]]
) -> tuple[list[Developer], list[DeveloperAdded]]:
    """Add the authors an analysis found for the first time, `(name, email, is_bot)` each, in one go; returns
    them and their `developer.added` events, which the caller emits (`events.emit_many`) in the same transaction.

    The same rows and the same events, in the same order, as `create(..., validate=False)` for each in turn, but
    written in a few statements whatever their number, and with the events left to the caller: an analysis
    emits all of its events last, in one batch. When an address is already taken (a removed
    developer's, brought back) or appears twice, the people are added one by one through `create`, which
    handles (or refuses) exactly that and emits its own events.
    """
    wanted = [(name.strip(), fold_email(email), is_bot) for name, email, is_bot in people]
    primaries = [email for _name, email, _bot in wanted]
    taken = len(set(primaries)) != len(primaries)
    for start in range(0, len(primaries), 500):
        if taken:
            break
        taken = (
            session.scalar(
                select(DeveloperEmail.id)
                .where(
                    DeveloperEmail.organization_id == organization_id,
                    DeveloperEmail.email.in_(primaries[start : start + 500]),
                )
                .limit(1)
            )
            is not None
        )
    if taken:
        one_by_one = [
            create(session, organization_id=organization_id, name=name, email=email, is_bot=is_bot, validate=False)
            for name, email, is_bot in people
        ]
        return one_by_one, []
    now = utcnow()
    devs = []
    for name, email, is_bot in wanted:
        dev = Developer(
            id=new_id("dev"), organization_id=organization_id, name=name, email=email, is_bot=is_bot, created_at=now
        )
        dev.emails.append(
            DeveloperEmail(id=new_id("dem"), organization_id=organization_id, email=email, is_primary=True)
        )
        devs.append(dev)
    session.add_all(devs)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("one of the new developers' addresses was just added by another request") from None
    return devs, [DeveloperAdded.model_validate(event_data(dev)) for dev in devs if not dev.is_bot]


def remove(session: Session, *, organization_id: str, developer_id: str) -> Developer:
    """Mark a developer removed (history is kept). Removing twice changes nothing and emits nothing."""
    dev = get(session, organization_id=organization_id, developer_id=developer_id)
    if dev.removed_at is None:
        dev.removed_at = utcnow()
        session.flush()
        if not dev.is_bot:
            events.emit(session, organization_id=organization_id, data=DeveloperRemoved.model_validate(event_data(dev)))
    return dev


def add_alias(session: Session, *, organization_id: str, developer_id: str, email: str) -> Developer:
    """Add an address; commits analysed from now on under it count for this developer.

    An address already seen in history belongs to the developer made for it: merge the two instead.
    """
    require_id(developer_id, "dev", "developer")
    dev = get(session, organization_id=organization_id, developer_id=developer_id)
    address = normalize_email(email)
    owner = find_by_email(session, organization_id=organization_id, email=address)
    if owner is not None:
        if owner.id == dev.id:
            # Another spelling of an address it has (case, punycode): adding it would add nothing, so say so.
            raise Conflict(
                f"{address} is already an email of developer {dev.id}",
                details=[{"field": "email", "developer_id": dev.id}],
            )
        raise Conflict(
            f"{address} belongs to developer {owner.id}; merge that developer into {dev.id} instead",
            details=[{"field": "email", "developer_id": owner.id}],
        )
    dev.emails.append(DeveloperEmail(id=new_id("dem"), organization_id=organization_id, email=address))
    session.flush()
    return dev


def _who(dev: Developer) -> str:
    """A developer in messages people read: their name, else their primary e-mail (never the id)."""
    primary = next((e.email for e in dev.emails if e.is_primary), None)
    return dev.name or primary or "without a name"


def remove_alias(session: Session, *, organization_id: str, developer_id: str, email: str) -> Developer:
    """Remove an alias (not the primary email). Metrics already counted stay until a full re-analysis."""
    require_id(developer_id, "dev", "developer")
    dev = get(session, organization_id=organization_id, developer_id=developer_id)
    address = fold_email(email)
    for item in dev.emails:
        if item.email == address:
            if item.is_primary:
                raise Conflict(f"{address} is the primary email of {_who(dev)}; it cannot be removed")
            dev.emails.remove(item)
            session.flush()
            return dev
    raise NotFound(f"{address} is not an alias of developer {_who(dev)}")
