"""Developers and their email identities. Every change writes its event in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import contains, get_owned
from gitproductivity.core.emails import fold_email, normalize_email
from gitproductivity.core.errors import Conflict, NotFound
from gitproductivity.core.ids import new_id, require_id
from gitproductivity.developers import rows
from gitproductivity.developers.lists import SORTS as SORTS  # the lists live in `developers.lists`
from gitproductivity.developers.lists import aliases_of as aliases_of
from gitproductivity.developers.lists import list_fields as list_fields
from gitproductivity.developers.lists import list_window as list_window
from gitproductivity.developers.lists import matching as matching
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


@dataclass(frozen=True, slots=True)
class Added:
    """A developer as `add` wrote it, in plain values (no ORM objects): what `POST /v1/developers` answers, read
    the way `DeveloperRead` reads a `Developer`."""

    id: str
    name: str
    email: str
    aliases: list[str]
    is_bot: bool
    created_at: datetime
    removed_at: datetime | None

    @classmethod
    def of(cls, dev: Developer) -> Added:
        return cls(dev.id, dev.name, dev.email, dev.aliases, dev.is_bot, dev.created_at, dev.removed_at)


def add(
    session: Session,
    *,
    organization_id: str,
    name: str,
    email: str,
    aliases: Sequence[str] = (),
    is_bot: bool = False,
    validate: bool = True,
) -> Added:
    """`create`, answering with the values written instead of a `Developer`: in the common case (no address
    taken) no ORM object is made at all (their bookkeeping was the largest part of `POST /v1/developers`)."""
    written = _write(session, organization_id, name, email, aliases, is_bot=is_bot, validate=validate)
    if isinstance(written, Developer):
        return Added.of(written)
    row, email_rows = written
    others = [r["email"] for r in email_rows[1:]]
    return Added(row["id"], row["name"], row["email"], others, row["is_bot"], row["created_at"], None)


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
    written = _write(session, organization_id, name, email, aliases, is_bot=is_bot, validate=validate)
    if isinstance(written, Developer):
        return written
    row, email_rows = written
    # Put in the session as persistent objects (as if loaded): callers get the `Developer` a flush would have
    # made, without the flush.
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


def _write(
    session: Session,
    organization_id: str,
    name: str,
    email: str,
    aliases: Sequence[str],
    *,
    is_bot: bool,
    validate: bool,
) -> tuple[rows.Row, list[rows.Row]] | Developer:
    """What `create` and `add` do: the rows written (the common case), or the removed developer brought back;
    the `developer.added` event emitted for a person."""
    primary = normalize_email(email) if validate else fold_email(email)
    others = [normalize_email(a, field="aliases") if validate else fold_email(a) for a in aliases]
    others = [a for a in dict.fromkeys(others) if a != primary]
    name = name.strip()

    if session.new or session.dirty or session.deleted:
        session.flush()  # the insert below meets the tables directly: what this session changed must be there
    written: tuple[rows.Row, list[rows.Row]] | Developer | None
    written = rows.insert(session, organization_id=organization_id, name=name, emails=[primary, *others], is_bot=is_bot)
    if written is None:  # an address is taken: nothing of this developer was kept
        found = rows.owners(session, organization_id=organization_id, emails=[primary, *others])
        if not found:  # taken a moment ago by a transaction that has since let go of it
            raise Conflict(f"{primary} or one of its aliases was just added by another request")
        written = _bring_back(
            session,
            organization_id=organization_id,
            name=name,
            primary=primary,
            others=others,
            is_bot=is_bot,
            found=found,
        )
    if isinstance(written, Developer):
        data, bot = event_data(written), written.is_bot
    else:
        data, bot = {"developer_id": written[0]["id"], "name": name, "email": primary}, is_bot
    if not bot:
        events.emit(session, organization_id=organization_id, data=DeveloperAdded.model_validate(data))
    return written


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
