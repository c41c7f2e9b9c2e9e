from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gitproductivity.core.db import Database
from gitproductivity.developers import service
from gitproductivity.events.models import Event
from tests.conftest import Tenant


def add(api: TestClient, i: int) -> str:
    return str(api.post("/v1/developers", json={"name": f"D{i}", "email": f"d{i}@example.com"}).json()["id"])


def test_feed_pages_in_order_without_gaps_or_repeats(api: TestClient) -> None:
    for i in range(5):
        add(api, i)
    all_events = api.get("/v1/events").json()["data"]
    assert len(all_events) == 5
    collected = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["after"] = cursor
        page = api.get("/v1/events", params=params).json()
        collected += page["data"]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert collected == all_events
    # Catching up from the last cursor returns nothing new, and keeps the cursor.
    tail = api.get("/v1/events", params={"after": cursor}).json()
    assert tail == {"data": [], "has_more": False, "next_cursor": cursor}
    add(api, 99)
    assert [e["data"]["name"] for e in api.get("/v1/events", params={"after": cursor}).json()["data"]] == ["D99"]


def test_get_event_and_filters(api: TestClient) -> None:
    dev = add(api, 1)
    api.delete(f"/v1/developers/{dev}")
    evts = api.get("/v1/events", params={"type": "developer.removed"}).json()["data"]
    assert [e["type"] for e in evts] == ["developer.removed"]
    assert api.get(f"/v1/events/{evts[0]['id']}").json() == evts[0]
    both = api.get("/v1/events", params={"type": "developer.added,developer.removed"}).json()["data"]
    assert [e["type"] for e in both] == ["developer.added", "developer.removed"]
    bad = api.get("/v1/events", params={"type": "developer.exploded"})
    assert bad.status_code == 422
    assert api.get("/v1/events", params={"after": "evt_unknown"}).status_code == 404
    assert api.get("/v1/events/evt_unknown").status_code == 404


def test_event_exists_if_and_only_if_change_committed(database: Database, tenant: Tenant) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), database.session() as session:
        service.create(session, organization_id=tenant.organization_id, name="Ghost", email="ghost@example.com")
        assert session.scalar(select(func.count()).select_from(Event)) == 1  # written in the same transaction
        raise Boom
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 0
        assert service.find_by_email(session, organization_id=tenant.organization_id, email="ghost@example.com") is None

    with database.session() as session:
        service.create(session, organization_id=tenant.organization_id, name="Real", email="real@example.com")
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 1


def test_concurrent_writers_commit_events_in_feed_order(database: Database, tenant: Tenant) -> None:
    """Many threads emitting at once: the feed order (seq) matches the order ids became visible."""
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for j in range(5):
                with database.session() as session:
                    service.create(
                        session, organization_id=tenant.organization_id, name=f"W{n}-{j}", email=f"w{n}-{j}@example.com"
                    )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with database.session() as session:
        seqs = list(session.scalars(select(Event.seq).order_by(Event.seq)))
    assert len(seqs) == 30
    assert len(set(seqs)) == 30
