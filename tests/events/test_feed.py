from __future__ import annotations

import contextlib
import functools
import random
import threading
import time

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from gitproductivity.core.db import Database
from gitproductivity.developers import service
from gitproductivity.events import service as events
from gitproductivity.events.models import Event
from gitproductivity.events.payloads import DeveloperAdded
from tests.conftest import PG_ADMIN_URL, Tenant, run_async


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


class Rollback(Exception):
    pass


def test_concurrent_writers_never_make_the_feed_skip_or_repeat(database: Database, tenant: Tenant) -> None:
    """16 writers commit in parallel (some slowly, some rolling back) while two readers page with `after`:
    each reader sees every committed event exactly once, no rolled-back one, both in the same order."""
    org = tenant.organization_id
    writers, rounds = 16, 20
    committed: list[str] = []
    rolled_back: list[str] = []
    errors: list[BaseException] = []

    def write(n: int) -> None:
        rng = random.Random(n)
        try:
            for r in range(rounds):
                ids: list[str] = []
                rolls_back = rng.random() < 0.2
                with contextlib.suppress(Rollback), database.session() as session:
                    for k in range(rng.randint(1, 3)):
                        name = f"w{n}-{r}-{k}"
                        data = DeveloperAdded(developer_id=f"dev_{name}", name=name, email=f"{name}@example.com")
                        if rng.random() < 0.3:
                            ids += [e.id for e in events.emit_many(session, organization_id=org, data=[data])]
                        else:
                            ids.append(events.emit(session, organization_id=org, data=data).id)
                        if rng.random() < 0.5:  # a slow transaction: others draw later seq and commit first
                            time.sleep(rng.random() * 0.01)
                    if rolls_back:
                        raise Rollback
                (rolled_back if rolls_back else committed).extend(ids)  # list.extend is atomic under the GIL
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def page(cursor: str | None, limit: int) -> list[str]:
        with database.session() as session:
            return [e.id for e in events.list_(session, organization_id=org, after=cursor, limit=limit)]

    def read(seen: list[str], limit: int) -> None:
        """Page until every committed event is in (or a minute after the writers finished: then it skipped)."""
        cursor: str | None = None
        try:
            while not (writing_done.is_set() and (len(seen) >= len(committed) or time.monotonic() > deadline[0])):
                got = page(cursor, limit)
                seen.extend(got)
                cursor = got[-1] if got else cursor
                if not got and writing_done.is_set():  # the tail: wait for the last commits (or the next poll)
                    run_async(
                        functools.partial(events.wait, organization_id=org, after=cursor, timeout=1, poll_interval=0.05)
                    )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    first: list[str] = []
    second: list[str] = []
    writing_done = threading.Event()
    deadline = [float("inf")]
    readers = [threading.Thread(target=read, args=(first, 7)), threading.Thread(target=read, args=(second, 3))]
    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in readers + threads:
        t.start()
    for t in threads:
        t.join()
    # A transaction elsewhere on the server may hold the feed back a little after the last commit.
    deadline[0] = time.monotonic() + 60
    writing_done.set()
    for t in readers:
        t.join()
    assert errors == []
    assert rolled_back and len(committed) > writers * rounds  # the workload did what it says
    assert len(first) == len(set(first)), "an event was served twice"
    assert sorted(first) == sorted(committed), "an event was skipped (or a rolled-back one served)"
    assert not set(first) & set(rolled_back)
    assert second == first
    assert page(None, 10_000) == first  # and a reader starting now agrees


@pytest.mark.parametrize("backend", ["postgresql"])  # SQLite has one writer: every committed event is served
def test_an_event_is_served_once_every_older_transaction_has_ended(database: Database, tenant: Tenant) -> None:
    """PostgreSQL: an event committed while an older transaction is open is not served (it could be followed
    by the older one's events); `wait` does not answer True for it, `newest` does not give it as a cursor; once
    the older transaction ends (here: rolled back), the event is served and `wait` answers."""
    org = tenant.organization_id
    with database.session() as session:
        service.create(session, organization_id=org, name="First", email="first@example.com")
    with database.session() as session:
        cursor = events.list_(session, organization_id=org)[-1].id
    with database.engine.connect() as holder:
        holder.execute(text("SELECT pg_current_xact_id()"))  # an older transaction with an id, still open
        with database.session() as session:
            service.create(session, organization_id=org, name="Late", email="late@example.com")
        with database.session() as session:
            assert events.list_(session, organization_id=org, after=cursor) == []
            assert [e.id for e in events.latest(session, organization_id=org, limit=1)] == [cursor]
        assert not run_async(lambda: events.wait(organization_id=org, after=cursor, timeout=0.5, poll_interval=0.05))
        holder.rollback()
    assert run_async(lambda: events.wait(organization_id=org, after=cursor, timeout=30, poll_interval=0.05))
    with database.session() as session:
        served = events.list_(session, organization_id=org, after=cursor)
        assert [events.envelope(e)["data"]["name"] for e in served] == ["Late"]
        # The reader's own transaction, once it has written, is in flight too: its events are not served to it.
        service.create(session, organization_id=org, name="Mine", email="mine@example.com")
        assert events.list_(session, organization_id=org, after=served[-1].id) == []
    assert run_async(lambda: events.wait(organization_id=org, after=served[-1].id, timeout=30, poll_interval=0.05))


@pytest.mark.parametrize("backend", ["postgresql"])  # SQLite has one writer at a time, by design
def test_event_writers_of_one_organisation_do_not_wait_for_each_other(database: Database, tenant: Tenant) -> None:
    """An open transaction that has written events (a long analysis store) does not hold up another writer of the
    same organisation: with a lock timeout, a writer that queued behind it would fail instead of committing."""
    org = tenant.organization_id
    with database.session() as long_one:
        service.create(long_one, organization_id=org, name="Slow", email="slow@example.com")
        with database.session() as other:
            other.execute(text("SET LOCAL lock_timeout = '2s'"))
            service.create(other, organization_id=org, name="Quick", email="quick@example.com")
        with database.session() as reader:  # committed, held back from the feed by the open one
            assert events.list_(reader, organization_id=org) == []
    assert names_served(database, org, count=2) == ["Slow", "Quick"]


def names_served(database: Database, org: str, *, count: int, timeout: float = 30) -> list[str]:
    """The names in the feed once `count` events are served (a transaction elsewhere on the server may hold the
    feed back for a moment), or what is served after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        with database.session() as session:
            rows = events.list_(session, organization_id=org, limit=10_000)
        if len(rows) >= count or time.monotonic() > deadline:
            return [events.envelope(e)["data"]["name"] for e in rows]
        last = rows[-1].id if rows else None
        run_async(functools.partial(events.wait, organization_id=org, after=last, timeout=1, poll_interval=0.05))


@pytest.mark.parametrize("backend", ["postgresql"])  # SQLite has no other databases on a server
def test_a_transaction_in_another_database_does_not_hold_the_feed_back(database: Database, tenant: Tenant) -> None:
    """Only this database's transactions can write its events: one open elsewhere on the server (here in the
    server's `postgres` database) does not keep an event committed after it from being served."""
    org = tenant.organization_id
    with psycopg.connect(PG_ADMIN_URL) as elsewhere:
        elsewhere.execute("SELECT pg_current_xact_id()")  # an open transaction with an id, older than the event
        with database.session() as session:
            service.create(session, organization_id=org, name="Now", email="now@example.com")
        with database.session() as session:
            assert [events.envelope(e)["data"]["name"] for e in events.list_(session, organization_id=org)] == ["Now"]
        elsewhere.rollback()
