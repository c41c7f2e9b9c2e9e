"""Developers and their email identities. Every change writes its event in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Executable, Table, bindparam, delete, func, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import contains, get_owned
from gitproductivity.core.emails import fold_email, normalize_email
from gitproductivity.core.errors import Conflict, NotFound
from gitproductivity.core.ids import new_id, require_id
from gitproductivity.developers.lists import SORTS as SORTS  # the lists live in `developers.lists`
from gitproductivity.developers.lists import aliases_of as aliases_of
from gitproductivity.developers.lists import list_fields as list_fields
from gitproductivity.developers.lists import list_window as list_window
from gitproductivity.developers.lists import matching as matching
from gitproductivity.developers.models import Developer, DeveloperEmail
from gitproductivity.events import service as events
from gitproductivity.events.payloads import DeveloperAdded, DeveloperRemoved

_DEVELOPERS = cast(Table, Developer.__table__)
_EMAILS = cast(Table, DeveloperEmail.__table__)


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


#: Built once: constructing a statement cost as much as running it (a request adds one developer). Core
#: statements on the tables, run on the session's connection: no ORM compile step, no flush.
_TAKEN = select(_EMAILS.c.email, _EMAILS.c.developer_id).where(
    _EMAILS.c.organization_id == bindparam("organization_id"),
    _EMAILS.c.email.in_(bindparam("emails", expanding=True)),
)
_INSERT_DEVELOPER = insert(_DEVELOPERS)
#: SQLite: the e-mails inserted unless taken; the addresses that went in come back (the check and the insert in
#: one statement).
_INSERT_EMAILS_SQLITE = sqlite.insert(_EMAILS).on_conflict_do_nothing().returning(_EMAILS.c.email)
_UNDO_EMAILS = delete(_EMAILS).where(_EMAILS.c.developer_id == bindparam("developer_id"))
_UNDO_DEVELOPER = delete(_DEVELOPERS).where(_DEVELOPERS.c.id == bindparam("developer_id"))


def _insert_developer_with_emails() -> Executable:
    """PostgreSQL: the developer and its e-mails in one statement (one round trip), the e-mails (arrays, one
    element each, so one statement whatever their number) inserted unless taken, returning the addresses that
    went in. The e-mails' foreign key is checked at the end of the statement, when the developer's row (the
    CTE's insert) is there."""
    developer = (
        postgresql.insert(_DEVELOPERS)
        .values({c.name: bindparam(f"d_{c.name}", type_=c.type) for c in _DEVELOPERS.c})
        .cte("new_developer")
    )
    emails = (
        func.unnest(
            bindparam("e_ids", type_=postgresql.ARRAY(_EMAILS.c.id.type)),
            bindparam("e_emails", type_=postgresql.ARRAY(_EMAILS.c.email.type)),
            bindparam("e_primary", type_=postgresql.ARRAY(_EMAILS.c.is_primary.type)),
        )
        .table_valued("id", "email", "is_primary")
        .render_derived(name="new_emails")
    )
    rows = select(
        emails.c.id,
        bindparam("d_organization_id", type_=_EMAILS.c.organization_id.type),
        bindparam("d_id", type_=_EMAILS.c.developer_id.type),
        emails.c.email,
        emails.c.is_primary,
    )
    return (
        postgresql.insert(_EMAILS)
        .from_select(["id", "organization_id", "developer_id", "email", "is_primary"], rows)
        .on_conflict_do_nothing()
        .returning(_EMAILS.c.email)
        .add_cte(developer)
    )


_INSERT_DEVELOPER_WITH_EMAILS = _insert_developer_with_emails()


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

    if session.new or session.dirty or session.deleted:
        session.flush()  # the insert below meets the tables directly: what this session changed must be there
    dev = _insert(session, organization_id=organization_id, name=name, emails=[primary, *others], is_bot=is_bot)
    if dev is None:  # an address is taken: nothing of this developer was kept
        found = (
            session.connection()
            .execute(_TAKEN, {"organization_id": organization_id, "emails": [primary, *others]})
            .all()
        )
        if not found:  # taken a moment ago by a transaction that has since let go of it
            raise Conflict(f"{primary} or one of its aliases was just added by another request")
        dev = _bring_back(
            session,
            organization_id=organization_id,
            name=name,
            primary=primary,
            others=others,
            is_bot=is_bot,
            found=found,
        )
    if not dev.is_bot:
        events.emit(session, organization_id=organization_id, data=DeveloperAdded.model_validate(event_data(dev)))
    return dev


def _insert(session: Session, *, organization_id: str, name: str, emails: list[str], is_bot: bool) -> Developer | None:
    """Write the developer and its e-mails unless an address is taken (then nothing stays written: None).

    The check is the insert itself (`ON CONFLICT DO NOTHING RETURNING`: an address that went in comes back); on
    PostgreSQL the developer goes in with its e-mails in the same statement. When all went in (the common case),
    the developer and its e-mails are put in the session as persistent objects (as if loaded), so callers get the
    same `Developer` a flush would have made, without the flush (the unit of work's bookkeeping was most of
    `POST /v1/developers`). When one was taken, what this call wrote is deleted again and the caller takes the
    slow path (a removed developer brought back, or a conflict)."""
    row = {
        "id": new_id("dev"),
        "organization_id": organization_id,
        "name": name,
        "email": emails[0],
        "is_bot": is_bot,
        "created_at": utcnow(),
        "removed_at": None,
    }
    email_rows = [
        {
            "id": new_id("dem"),
            "organization_id": organization_id,
            "developer_id": row["id"],
            "email": address,
            "is_primary": i == 0,
        }
        for i, address in enumerate(emails)
    ]
    connection = session.connection()
    try:
        if connection.dialect.name == "postgresql":
            values = {f"d_{name}": value for name, value in row.items()}
            values["e_ids"] = [r["id"] for r in email_rows]
            values["e_emails"] = emails
            values["e_primary"] = [r["is_primary"] for r in email_rows]
            written = connection.execute(_INSERT_DEVELOPER_WITH_EMAILS, values).all()
        else:
            connection.execute(_INSERT_DEVELOPER, row)
            written = connection.execute(_INSERT_EMAILS_SQLITE, email_rows).all()
    except IntegrityError:
        raise Conflict(f"{emails[0]} or one of its aliases was just added by another request") from None
    if len(written) != len(email_rows):
        connection.execute(_UNDO_EMAILS, {"developer_id": row["id"]})
        connection.execute(_UNDO_DEVELOPER, {"developer_id": row["id"]})
        return None
    dev = Developer(**row)
    make_transient_to_detached(dev)
    items = []
    for email_row in email_rows:  # primary first, then the aliases as given (what a flush left in the collection)
        item = DeveloperEmail(**email_row)
        make_transient_to_detached(item)
        set_committed_value(item, "developer", dev)
        items.append(item)
    set_committed_value(dev, "emails", items)
    session.add(dev)  # persistent: in the identity map, nothing to flush
    return dev


def _bring_back(
    session: Session,
    *,
    organization_id: str,
    name: str,
    primary: str,
    others: list[str],
    is_bot: bool,
    found: Sequence[Any],
) -> Developer:
    """An address is taken: a removed developer's primary address brings that developer back; anything else is
    a conflict."""
    taken = {address: session.get_one(Developer, owner_id) for address, owner_id in found}
    previous = taken.get(primary)
    for address, owner in taken.items():
        if owner.removed_at is None:
            raise Conflict(f"{address} already belongs to developer {_who(owner)}", details=[{"field": "email"}])
        if owner is not previous:
            raise Conflict(f"{address} belongs to removed developer {_who(owner)}; add that address as its email")
    assert previous is not None  # every taken address is `previous`'s (the loop above)
    dev = previous
    dev.name = name or dev.name
    dev.removed_at = None
    dev.is_bot = is_bot
    known = {e.email for e in dev.emails}
    for address in others:
        if address not in known:
            dev.emails.append(DeveloperEmail(id=new_id("dem"), organization_id=organization_id, email=address))
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"{primary} or one of its aliases was just added by another request") from None
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
