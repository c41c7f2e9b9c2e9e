"""Storing an analysis is a short transaction whatever the number of new authors (issue 12, "save stall").

While the store runs, SQLite's only write lock is held, so webhook deliveries and other writers wait for it (on
PostgreSQL, a long store holds back the event feed: `events.service`). New authors, their `developer.added` events, the
`metrics.updated` events and every event's deliveries are therefore written in bulk: the number of statements
does not grow with the number of authors. The results are those of adding the developers one by one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from gitproductivity.core import settings
from gitproductivity.core.db import Database
from gitproductivity.core.errors import Conflict
from gitproductivity.developers import service as developers
from gitproductivity.events import service as events
from gitproductivity.events.models import Event
from gitproductivity.events.payloads import DeveloperAdded
from gitproductivity.webhooks import endpoints
from gitproductivity.webhooks.models import Delivery
from tests.analysis.gitrepo import Repo, drain, lines
from tests.conftest import Tenant


@contextmanager
def statements(database: Database) -> Iterator[list[str]]:
    """Every statement SQLAlchemy sends to the database meanwhile (an executemany counts once; the COPY and
    driver executemany of `core.db.bulk_write` go around SQLAlchemy and are not seen, as they are one call each)."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    sa_event.listen(database.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa_event.remove(database.engine, "before_cursor_execute", note)


def history(path: Path, authors: list[str]) -> Repo:
    repo = Repo(path)
    for i, author in enumerate(authors):
        repo.commit(author, f"2026-03-{1 + i % 28:02d}T10:00:00Z", {f"f{i}": lines(1 + i % 5)})
    return repo


def hook_for_everything(database: Database, tenant: Tenant) -> str:
    with database.session() as session:
        return endpoints.create(
            session, organization_id=tenant.organization_id, url="http://127.0.0.1:9/hook", events=["*"]
        ).id


def test_new_authors_are_stored_in_a_number_of_statements_that_does_not_grow_with_them(
    api: TestClient, tenant: Tenant, database: Database, database_url: str, tmp_path: Path
) -> None:
    settings.configure(database_url=database_url, data_dir=tmp_path / "data", webhook_allow_private_destinations=True)
    hook_for_everything(database, tenant)
    few = history(tmp_path / "few", [f"Few {i} <few{i}@example.com>" for i in range(2)])
    many_authors = [f"Many {i:02d} <many{i:02d}@example.com>" for i in range(60)]
    many = history(tmp_path / "many", [*many_authors, "Build [bot] <ci-bot@example.com>"])

    counts = []
    for repo in (few, many):
        api.post("/v1/repositories", json={"url": str(repo.path)})
        with statements(database) as seen:
            assert drain() == ["succeeded"]
        counts.append(len(seen))
    # One by one (before), each new author cost six to ten statements: 58 more authors were hundreds more.
    assert counts[1] - counts[0] < 20, counts

    # The same results as adding them one by one: one developer each, `developer.added` in email order (bots
    # are developers apart, without the event), a `metrics.updated` each, and one delivery per event.
    devs = api.get("/v1/developers", params={"limit": 100}).json()["data"]
    assert len(devs) == 2 + 60 + 1
    added = api.get("/v1/events", params={"type": "developer.added", "limit": 100}).json()["data"]
    assert [e["data"]["email"] for e in added] == [*[f"few{i}@example.com" for i in range(2)]] + [
        f"many{i:02d}@example.com" for i in range(60)
    ]
    by_email = {d["email"]: d for d in devs}
    assert all(
        e["data"]
        == {k: by_email[e["data"]["email"]][k] for k in ("name", "email")} | {"developer_id": e["data"]["developer_id"]}
        and e["data"]["developer_id"] == by_email[e["data"]["email"]]["id"]
        for e in added
    )
    assert by_email["ci-bot@example.com"]["is_bot"] is True
    updated = api.get("/v1/events", params={"type": "metrics.updated", "limit": 100}).json()["data"]
    assert len(updated) == 62
    assert {e["data"]["totals"]["commits"] for e in updated} == {1}
    with database.session() as session:
        n_events = session.scalar(select(func.count()).select_from(Event))
        n_deliveries = session.scalar(select(func.count()).select_from(Delivery).where(Delivery.is_test.is_(False)))
    assert n_events == n_deliveries  # every event, whether written one by one or in bulk, has its delivery


def test_an_author_who_is_a_removed_developer_is_not_added_again(
    api: TestClient, database_url: str, tmp_path: Path
) -> None:
    settings.configure(database_url=database_url, data_dir=tmp_path / "data")
    old = api.post("/v1/developers", json={"name": "Bea", "email": "b@example.com"}).json()
    assert api.delete(f"/v1/developers/{old['id']}").status_code in (200, 204)
    repo = history(tmp_path / "r", ["Ann <a@example.com>", "Bea B <B@Example.com>", "Cy <c@example.com>"])
    api.post("/v1/repositories", json={"url": str(repo.path)})
    assert drain() == ["succeeded"]

    devs = {d["email"]: d for d in api.get("/v1/developers", params={"include_removed": True}).json()["data"]}
    assert sorted(devs) == ["a@example.com", "b@example.com", "c@example.com"]
    assert devs["b@example.com"]["id"] == old["id"] and devs["b@example.com"]["removed_at"] is not None
    added = api.get("/v1/events", params={"type": "developer.added"}).json()["data"]
    assert [e["data"]["email"] for e in added] == ["b@example.com", "a@example.com", "c@example.com"]


def test_create_found_falls_back_to_one_by_one_for_taken_and_repeated_addresses(
    database: Database, tenant: Tenant
) -> None:
    org = tenant.organization_id
    with database.session() as session:
        gone = developers.create(session, organization_id=org, name="Bea", email="b@example.com")
        developers.remove(session, organization_id=org, developer_id=gone.id)
    with database.session() as session:
        found, pending = developers.create_found(
            session, organization_id=org, people=[("Ann", "a@example.com", False), ("Bea B", "b@example.com", False)]
        )
        assert [d.id for d in found][1] == gone.id and found[1].removed_at is None  # brought back, as create does
        assert pending == []  # `create` emitted them, one by one
    with pytest.raises(Conflict), database.session() as session:
        developers.create_found(
            session, organization_id=org, people=[("X", "x@example.com", False), ("X2", "X@example.com ", False)]
        )
    with database.session() as session:
        feed = events.list_(session, organization_id=org, types=["developer.added"])
        assert [events.envelope(e)["data"]["email"] for e in feed] == [
            "b@example.com",
            "a@example.com",
            "b@example.com",
        ]


def _added(i: int) -> DeveloperAdded:
    return DeveloperAdded(developer_id=f"dev_{i:026d}", name=f"Dev {i} é", email=f"dev{i}@example.com")


def test_emit_many_keeps_the_guarantees_of_emit(database: Database, tenant: Tenant, database_url: str) -> None:
    settings.configure(database_url=database_url, webhook_allow_private_destinations=True)
    with database.session() as session:
        endpoints.create(
            session, organization_id=tenant.organization_id, url="http://127.0.0.1:9/a", events=["developer.added"]
        )
        endpoints.create(
            session, organization_id=tenant.organization_id, url="http://127.0.0.1:9/b", events=["metrics.updated"]
        )

    # All or nothing with the rest of the transaction: no event and no delivery when it rolls back.
    with pytest.raises(RuntimeError), database.session() as session:
        events.emit_many(session, organization_id=tenant.organization_id, data=[_added(1), _added(2)])
        raise RuntimeError("the change fails after its events were written")
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 0
        assert session.scalar(select(func.count()).select_from(Delivery).where(Delivery.is_test.is_(False))) == 0

    with database.session() as session:
        first = events.emit(session, organization_id=tenant.organization_id, data=_added(0))
        batch = events.emit_many(session, organization_id=tenant.organization_id, data=[_added(i) for i in (1, 2, 3)])
        last = events.emit(session, organization_id=tenant.organization_id, data=_added(4))
        assert events.emit_many(session, organization_id=tenant.organization_id, data=[]) == []
    with database.session() as session:
        feed = events.list_(session, organization_id=tenant.organization_id)
        assert [e.id for e in feed] == [first.id, *[e.id for e in batch], last.id]  # seq order = the order given
        assert [e.seq for e in feed] == sorted(e.seq for e in feed)
        assert len({e.txid for e in feed}) == 1  # one transaction: one place in the feed, on both databases
        for i, item in enumerate(feed):
            body = events.envelope(item)
            assert body["data"] == _added(i).model_dump(mode="json")  # the same payload emit would write
            assert body["id"] == item.id and body["type"] == "developer.added"
            assert body["created_at"].endswith("Z")
        delivered = session.execute(select(Delivery.event_id, Delivery.event_type).where(Delivery.is_test.is_(False)))
        assert sorted(delivered) == sorted((e.id, "developer.added") for e in feed)  # only the subscribed endpoint

    with pytest.raises(TypeError), database.session() as session:
        events.emit_many(session, organization_id=tenant.organization_id, data=[_added(5), {"not": "a payload"}])  # type: ignore[list-item]
