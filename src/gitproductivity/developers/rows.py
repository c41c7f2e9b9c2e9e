"""The rows of a new developer and its e-mails, written with Core statements built once (constructing a statement
cost as much as running it; a request adds one developer): no ORM compile step, no flush, no ORM objects.
`developers.service` (`create`, `add`) is their one user; docs/benchmarks.md, "The API's own cost"."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Executable, Table, bindparam, delete, func, select
from sqlalchemy import insert as core_insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gitproductivity.core.clock import utcnow
from gitproductivity.core.errors import Conflict
from gitproductivity.core.ids import new_id
from gitproductivity.core.prepared import Prepared
from gitproductivity.developers.models import Developer, DeveloperEmail

Row = dict[str, Any]
_DEVELOPERS = cast(Table, Developer.__table__)
_EMAILS = cast(Table, DeveloperEmail.__table__)

#: Built once: constructing a statement cost as much as running it (a request adds one developer). Core
#: statements on the tables, run on the session's connection: no ORM compile step, no flush.
_TAKEN = select(_EMAILS.c.email, _EMAILS.c.developer_id).where(
    _EMAILS.c.organization_id == bindparam("organization_id"),
    _EMAILS.c.email.in_(bindparam("emails", expanding=True)),
)
_DEVELOPER_KEYS = [c.name for c in _DEVELOPERS.c]
_INSERT_DEVELOPER = Prepared(core_insert(_DEVELOPERS), keys=_DEVELOPER_KEYS)
#: SQLite: an e-mail inserted unless taken; the address comes back when it went in (the check and the insert in
#: one statement).
_INSERT_EMAIL_SQLITE = Prepared(
    sqlite.insert(_EMAILS).on_conflict_do_nothing().returning(_EMAILS.c.email),
    keys=["id", "organization_id", "developer_id", "email", "is_primary"],
)
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


_INSERT_DEVELOPER_WITH_EMAILS = Prepared(_insert_developer_with_emails())


def owners(session: Session, *, organization_id: str, emails: list[str]) -> Sequence[Any]:
    """`(email, developer_id)` of those of `emails` that are taken in the organisation."""
    return session.connection().execute(_TAKEN, {"organization_id": organization_id, "emails": emails}).all()


def insert(
    session: Session, *, organization_id: str, name: str, emails: list[str], is_bot: bool
) -> tuple[Row, list[Row]] | None:
    """Write the developer and its e-mails unless an address is taken (then nothing stays written: None).

    The check is the insert itself (`ON CONFLICT DO NOTHING RETURNING`: an address that went in comes back); on
    PostgreSQL the developer goes in with its e-mails in the same statement. When all went in (the common case),
    the rows written are returned. When one was taken, what this call wrote is deleted again and the caller
    takes the slow path (a removed developer brought back, or a conflict)."""
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
    try:
        if session.get_bind().dialect.name == "postgresql":
            values = {f"d_{name}": value for name, value in row.items()}
            values["e_ids"] = [r["id"] for r in email_rows]
            values["e_emails"] = emails
            values["e_primary"] = [r["is_primary"] for r in email_rows]
            written = _INSERT_DEVELOPER_WITH_EMAILS.rows(session, values)
        else:
            _INSERT_DEVELOPER.run(session, row)
            written = [found for email_row in email_rows for found in _INSERT_EMAIL_SQLITE.rows(session, email_row)]
    except IntegrityError:
        raise Conflict(f"{emails[0]} or one of its aliases was just added by another request") from None
    if len(written) != len(email_rows):
        connection = session.connection()
        connection.execute(_UNDO_EMAILS, {"developer_id": row["id"]})
        connection.execute(_UNDO_DEVELOPER, {"developer_id": row["id"]})
        return None
    return row, email_rows
