"""`POST /v1/developers` when an address is taken. The insert itself is the check (`ON CONFLICT DO NOTHING
RETURNING`; on PostgreSQL the developer and its e-mails in one statement): when an address is taken, what it wrote
is deleted again and the slow path answers as before. These tests pin the answers (the one error shape, word for
word) and that no row of the attempt is left behind, whichever way it ends."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gitproductivity.core.db import Database
from gitproductivity.developers.models import Developer, DeveloperEmail


def counts(database: Database) -> tuple[int, int]:
    with database.session() as session:
        developers = session.scalar(select(func.count()).select_from(Developer))
        emails = session.scalar(select(func.count()).select_from(DeveloperEmail))
    return int(developers or 0), int(emails or 0)


def post(api: TestClient, **body: Any) -> tuple[int, dict[str, Any]]:
    resp = api.post("/v1/developers", json=body)
    return resp.status_code, resp.json()


def test_a_taken_address_is_the_same_409_and_leaves_no_row(api: TestClient, database: Database) -> None:
    status, ann = post(api, name="Ann", email="ann@example.com", aliases=["ann@old.example.com"])
    assert status == 201
    assert counts(database) == (1, 2)
    events_before = api.get("/v1/events").json()["data"]

    taken_primary = post(api, name="Bob", email="ANN@example.com")
    assert taken_primary == (
        409,
        {
            "error": {
                "code": "conflict",
                "message": "ann@example.com already belongs to developer Ann",
                "details": [{"field": "email"}],
            }
        },
    )
    # The new primary goes in, the alias does not: the conflict is found on the alias, after the primary's row.
    taken_alias = post(api, name="Bob", email="bob@example.com", aliases=["new@example.com", "ann@old.example.com"])
    assert taken_alias == (
        409,
        {
            "error": {
                "code": "conflict",
                "message": "ann@old.example.com already belongs to developer Ann",
                "details": [{"field": "email"}],
            }
        },
    )
    assert counts(database) == (1, 2)
    assert api.get("/v1/events").json()["data"] == events_before
    assert api.get(f"/v1/developers/{ann['id']}").json() == ann


def test_bringing_back_a_removed_developer_with_a_new_alias_keeps_only_its_rows(
    api: TestClient, database: Database
) -> None:
    _, sam = post(api, name="Sam", email="sam@example.com")
    assert api.delete(f"/v1/developers/{sam['id']}").status_code == 200

    status, back = post(api, name="Sam B", email="sam@example.com", aliases=["sam@new.example.com"])
    assert status == 201
    assert (back["id"], back["name"], back["aliases"], back["removed_at"]) == (
        sam["id"],
        "Sam B",
        ["sam@new.example.com"],
        None,
    )
    # The attempt's own developer and e-mail rows (written, then found taken) are gone: the transaction that
    # commits holds only Sam, with both addresses.
    assert counts(database) == (1, 2)
    added = [e["data"] for e in api.get("/v1/events", params={"type": "developer.added"}).json()["data"]]
    assert added[-1] == {"developer_id": sam["id"], "name": "Sam B", "email": "sam@example.com"}


def test_a_new_developer_with_aliases_is_written_with_all_its_addresses(api: TestClient, database: Database) -> None:
    status, dev = post(api, name="Kim", email="Kim@Example.com", aliases=["k@a.example", "K@B.example", "k@a.example"])
    assert status == 201
    assert (dev["email"], dev["aliases"]) == ("kim@example.com", ["k@a.example", "k@b.example"])
    assert api.get(f"/v1/developers/{dev['id']}").json() == dev
    with database.session() as session:
        rows = session.execute(
            select(DeveloperEmail.email, DeveloperEmail.is_primary, DeveloperEmail.developer_id).order_by(
                DeveloperEmail.email
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("k@a.example", False, dev["id"]),
        ("k@b.example", False, dev["id"]),
        ("kim@example.com", True, dev["id"]),
    ]
