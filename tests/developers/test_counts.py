"""The developer list's total comes from `developer_counts`, which triggers on `developers` keep (migration
0019_developer_counts): after every kind of write, whoever makes it, the totals equal `count(*)`, on both
databases; on PostgreSQL a transaction adding a developer never waits for another one's commit."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from gitproductivity.core.db import Database
from gitproductivity.developers import lists, service
from tests.conftest import Tenant, make_tenant


def _counted(database: Database, organization_id: str) -> tuple[int, int]:
    """(current, all) as the list reads them."""
    with database.engine.connect() as conn:
        found = [
            conn.execute(lists._counted(every), {"organization_id": organization_id}).scalar_one()
            for every in (False, True)
        ]
    return found[0], found[1]


def _exact(database: Database, organization_id: str) -> tuple[int, int]:
    """(current, all) counted row by row."""
    with database.engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT sum(CASE WHEN removed_at IS NULL THEN 1 ELSE 0 END), count(*) FROM developers"
                " WHERE organization_id = :org"
            ),
            {"org": organization_id},
        ).one()
    return int(row[0] or 0), int(row[1])


def _check(database: Database, organization_id: str, expected: tuple[int, int]) -> None:
    assert _exact(database, organization_id) == expected
    assert _counted(database, organization_id) == expected


def _insert(conn: object, organization_id: str) -> None:
    """A developer written with plain SQL, as no service would (the triggers count it all the same)."""
    dev = f"dev_{uuid.uuid4().hex[:20]}"
    conn.execute(  # type: ignore[attr-defined]
        text(
            "INSERT INTO developers (id, organization_id, name, email, is_bot, created_at)"
            " VALUES (:id, :org, 'Raw', :email, false, :at)"
        ),
        {"id": dev, "org": organization_id, "email": f"{dev}@raw.example", "at": datetime(2026, 1, 1)},
    )


def test_every_write_keeps_the_totals_exact(
    api: TestClient, database: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    org = tenant.organization_id
    _check(database, org, (0, 0))
    made = [api.post("/v1/developers", json={"name": f"D{i}", "email": f"d{i}@example.com"}).json() for i in range(5)]
    _check(database, org, (5, 5))

    with database.session() as session:  # what an analysis adds, in bulk
        people = [(f"A{i}", f"a{i}@example.com", i == 0) for i in range(7)]
        service.create_found(session, organization_id=org, people=people)
    _check(database, org, (12, 12))

    assert api.delete(f"/v1/developers/{made[1]['id']}").status_code == 200
    assert api.delete(f"/v1/developers/{made[2]['id']}").status_code == 200
    _check(database, org, (10, 12))
    with database.session() as session:  # an analysis meets a removed one's address again: brought back
        people = [("D1 again", "d1@example.com", False), ("N", "n@example.com", False)]
        service.create_found(session, organization_id=org, people=people)
    _check(database, org, (12, 13))
    brought = api.post("/v1/developers", json={"name": "Back", "email": "d2@example.com"})  # the same through the API
    assert brought.status_code in (200, 201) and brought.json()["id"] == made[2]["id"]
    _check(database, org, (13, 13))

    merged = api.post(f"/v1/developers/{made[0]['id']}/merge", json={"developer_id": made[3]["id"]})
    assert merged.status_code == 200, merged.text
    _check(database, org, (12, 13))
    assert api.post(f"/v1/developers/{made[0]['id']}/aliases", json={"email": "zz@example.com"}).status_code == 201
    assert api.delete(f"/v1/developers/{made[0]['id']}/aliases/zz@example.com").status_code == 200
    _check(database, org, (12, 13))
    page = api.get("/v1/developers", params={"limit": 2}).json()
    assert page["total"] == 12
    assert api.get("/v1/developers", params={"limit": 2, "include_removed": "true"}).json()["total"] == 13
    assert api.get("/v1/developers", params={"limit": 2, "sort": "-name"}).json()["total"] == 12

    other = other_tenant.organization_id
    with database.engine.begin() as conn:  # plain SQL: a move between organisations, a rename, a bulk removal
        _insert(conn, other)
        conn.execute(
            text("UPDATE developers SET organization_id = :other WHERE id = :id"), {"other": other, "id": made[4]["id"]}
        )
        conn.execute(text("UPDATE developers SET name = 'Renamed' WHERE organization_id = :org"), {"org": org})
        conn.execute(
            text("UPDATE developers SET removed_at = :at WHERE organization_id = :org AND removed_at IS NULL"),
            {"org": org, "at": datetime(2026, 1, 2)},
        )
    _check(database, org, (0, 12))
    _check(database, other, (2, 2))
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE developers SET removed_at = NULL WHERE organization_id = :org"), {"org": org})
        conn.execute(text("DELETE FROM developers WHERE id = :id"), {"id": made[0]["id"]})
    _check(database, org, (11, 11))

    with database.engine.begin() as conn:  # deleting an organisation deletes its developers and its counts
        conn.execute(text("DELETE FROM organizations WHERE id = :org"), {"org": org})
    with database.engine.connect() as conn:
        left = conn.execute(text("SELECT organization_id FROM developer_counts")).scalars().all()
    assert set(left) == {other}
    _check(database, other, (2, 2))


def test_a_new_organisation_counts_from_zero(database: Database) -> None:
    tenant = make_tenant(database, "fresh@example.com")
    _check(database, tenant.organization_id, (0, 0))
    with database.engine.begin() as conn:
        for _ in range(3):
            _insert(conn, tenant.organization_id)
    _check(database, tenant.organization_id, (3, 3))


@pytest.mark.parametrize("backend", ["postgresql"])  # SQLite has one writer at a time, by design
def test_concurrent_inserts_neither_wait_nor_lose_a_count(database: Database, tenant: Tenant) -> None:
    """Twenty-four open transactions (more than the organisation's 16 rows) each add two developers to the same
    organisation: none waits for another (a lock wait would raise after lock_timeout), and after they commit the
    totals are exact."""
    org = tenant.organization_id
    open_ones = []
    try:
        for _ in range(24):
            conn = database.engine.connect()
            open_ones.append(conn)
            conn.begin()
            conn.execute(text("SET LOCAL lock_timeout = '2s'"))
            _insert(conn, org)
            _insert(conn, org)
        for conn in open_ones:
            conn.commit()
    finally:
        for conn in open_ones:
            conn.close()
    _check(database, org, (48, 48))

    with database.engine.connect() as writer, database.engine.connect() as other:
        writer.begin()
        for _ in range(10):  # ten statements in one transaction (as the ORM's bulk insert sends them) hold one row
            _insert(writer, org)
        free = other.execute(
            text("SELECT count(*) FROM (SELECT 1 FROM developer_counts WHERE organization_id = :org"
                 " FOR UPDATE SKIP LOCKED) AS free"), {"org": org}
        ).scalar_one()  # fmt: skip
        other.rollback()
        writer.commit()
    assert free == _rows(database, org) - 1
    _check(database, org, (58, 58))

    errors: list[BaseException] = []

    def add() -> None:
        try:
            for _ in range(10):
                with database.engine.begin() as conn:
                    _insert(conn, org)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=add) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    _check(database, org, (138, 138))
    assert 16 <= _rows(database, org) <= 16 + 8 + 8  # 16, and one per writer beyond them at once, not per developer


def _rows(database: Database, organization_id: str) -> int:
    with database.engine.connect() as conn:
        query = text("SELECT count(*) FROM developer_counts WHERE organization_id = :org")
        return int(conn.execute(query, {"org": organization_id}).scalar_one())
