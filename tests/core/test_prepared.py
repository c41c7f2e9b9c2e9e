"""`core.prepared.Prepared` runs a statement the way `Connection.execute` does: the same values stored and read,
the same exceptions, in the session's transaction, seen by cursor observers; and it refuses what it cannot do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import pytest
from sqlalchemy import Table, Text, bindparam, event, exc, insert, select, update

from gitproductivity.core.db import Database
from gitproductivity.core.prepared import Prepared
from gitproductivity.developers.models import Developer
from gitproductivity.webhooks.models import Webhook
from tests.conftest import Tenant

DEVELOPERS = cast(Table, Developer.__table__)
WEBHOOKS = cast(Table, Webhook.__table__)
KEYS = [c.name for c in DEVELOPERS.c]
INSERT = Prepared(insert(DEVELOPERS), keys=KEYS)
#: A time with a zone other than UTC (stored as UTC), a boolean and a name with quotes and non-ASCII.
WHEN = datetime(2026, 12, 3, 14, 5, 6, 789012, tzinfo=timezone(timedelta(hours=5, minutes=30)))


def _row(tenant: Tenant, n: int) -> dict[str, Any]:
    return {
        "id": f"dev_prepared{n:020d}",
        "organization_id": tenant.organization_id,
        "name": f'O\'Brien "{n}" ünï ✓',
        "email": f"p{n}@example.com",
        "is_bot": n % 2 == 1,
        "created_at": WHEN + timedelta(seconds=n),
        "removed_at": None if n % 3 else WHEN,
    }


def test_it_stores_what_a_core_insert_stores(database: Database, tenant: Tenant) -> None:
    prepared, core = _row(tenant, 1), _row(tenant, 2)
    core["name"], core["is_bot"], core["created_at"] = prepared["name"], prepared["is_bot"], prepared["created_at"]
    with database.session() as session:
        INSERT.run(session, prepared)
        session.connection().execute(insert(DEVELOPERS), core)
    as_text = [DEVELOPERS.c[name].cast(Text) for name in KEYS]
    with database.session() as session:
        stored = {row[0]: row[1:] for row in session.execute(select(*as_text))}
        loaded = {d.id: d for d in session.scalars(select(Developer))}
    by_prepared, by_core = stored[prepared["id"]], stored[core["id"]]
    assert by_prepared[0:2] == by_core[0:2]  # organisation and name: the same text
    assert by_prepared[3:5] == by_core[3:5]  # is_bot and created_at: the same stored text, byte for byte
    assert loaded[prepared["id"]].created_at == (WHEN + timedelta(seconds=1)).astimezone(UTC)
    assert loaded[prepared["id"]].is_bot is True
    assert loaded[prepared["id"]].name == prepared["name"]


def test_rows_come_back_through_the_result_columns_types(database: Database, tenant: Tenant) -> None:
    """The webhooks' `events` column is JSON: SQLite stores text, and the rows carry the parsed list."""
    read = Prepared(
        select(WEBHOOKS.c.id, WEBHOOKS.c.events, WEBHOOKS.c.created_at).where(
            WEBHOOKS.c.organization_id == bindparam("organization_id")
        )
    )
    with database.session() as session:
        session.add(
            Webhook(
                id="whk_prepared000000000000000000",
                organization_id=tenant.organization_id,
                url="https://example.com/hook",
                events=["developer.added", "analysis.*"],
                secret="whsec_test",
                created_at=WHEN,
                updated_at=WHEN,
            )
        )
    with database.session() as session:
        rows = read.rows(session, {"organization_id": tenant.organization_id})
        expected = session.connection().execute(read.statement, {"organization_id": tenant.organization_id}).all()
    assert rows == [tuple(expected[0])]
    assert rows[0][1] == ["developer.added", "analysis.*"]
    assert rows[0][2] == WHEN


def test_it_is_part_of_the_session_s_transaction(database: Database, tenant: Tenant) -> None:
    with pytest.raises(RuntimeError), database.session() as session:
        INSERT.run(session, _row(tenant, 3))
        assert session.scalar(select(Developer.name).where(Developer.id == _row(tenant, 3)["id"])) is not None
        raise RuntimeError("roll back")
    with database.session() as session:
        assert session.scalars(select(Developer.id)).all() == []  # rolled back with the unit of work


def test_driver_errors_are_sqlalchemy_s_and_hide_the_values(database: Database, tenant: Tenant) -> None:
    with database.session() as session:
        INSERT.run(session, _row(tenant, 4))
    with pytest.raises(exc.IntegrityError) as raised, database.session() as session:
        INSERT.run(session, {**_row(tenant, 4), "name": "secret-looking value"})  # the same id again
    assert "secret-looking value" not in str(raised.value)
    assert "hidden" in str(raised.value)
    with database.session() as session:  # the pool's connection is fine afterwards
        assert session.scalars(select(Developer.id)).all() == [_row(tenant, 4)["id"]]


def test_cursor_observers_see_its_statements(database: Database, tenant: Tenant) -> None:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()[:3]))

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        with database.session() as session:
            INSERT.run(session, _row(tenant, 5))
    finally:
        event.remove(database.engine, "before_cursor_execute", record)
    assert seen[-1] == "INSERT INTO developers"
    # SQLite's BEGIN IMMEDIATE goes the same way (`core.db`), and is seen too; PostgreSQL's driver begins by itself.
    assert seen[:-1] == (["BEGIN IMMEDIATE"] if database.is_sqlite else [])


def test_what_it_cannot_run_is_refused_when_compiled(database: Database, tenant: Tenant) -> None:
    expanding = Prepared(select(DEVELOPERS.c.id).where(DEVELOPERS.c.id.in_(bindparam("ids", expanding=True))))
    defaults = Prepared(insert(WEBHOOKS), keys=["id", "organization_id", "url", "secret"])  # Python-side defaults
    partial = Prepared(update(DEVELOPERS).where(DEVELOPERS.c.id == bindparam("dev")).values(name=bindparam("n")))
    with database.session() as session:
        with pytest.raises(ValueError, match="expanding"):
            expanding.rows(session, {"ids": ["dev_x"]})
        with pytest.raises(ValueError, match="defaults"):
            defaults.run(session, {"id": "whk_x", "organization_id": tenant.organization_id, "url": "u", "secret": "s"})
        with pytest.raises(exc.ArgumentError, match="'n'"):
            partial.run(session, {"dev": "dev_x"})
