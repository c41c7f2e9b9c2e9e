"""Held deliveries parked outside the due range (webhooks.ordering, docs/delivery.md "Ordered delivery"): fan-out
parks a delivery behind an earlier pending one of its key, the claim meets only heads, and every way a head ends
makes the next one due in the same transaction: success, failure for good, a worker dying mid-delivery (the lease
runs out and the retaken head's outcome releases), the ordering changed to "none"; on PostgreSQL a fan-out and the
recording of the head it parks behind, at the same time, in both orders; and the migration that parks (and, going
down, unparks) what is held."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from gitproductivity.core import migrate
from gitproductivity.core.db import Database
from gitproductivity.events import service as events
from gitproductivity.events.payloads import RepositoryConnected
from gitproductivity.webhooks import deliveries, endpoints, outcomes, queue
from gitproductivity.webhooks.models import Delivery, DeliveryStatus
from gitproductivity.webhooks.sender import Outcome
from tests.clock import Clock, moved_clock
from tests.conftest import Tenant
from tests.core.test_migrations import empty_database_url, old_tenant, put, upgrade_to  # noqa: F401 (a fixture)
from tests.teams.test_api import _signed_in
from tests.webhooks.conftest import configure, wait_for


@pytest.fixture
def clock(database: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Clock:
    configure(database_url, tmp_path, retry_schedule="60")  # one retry, a minute after the first failure
    return moved_clock(monkeypatch)


def ordered_hook(database: Database, tenant: Tenant, ordering: str = "per_repository") -> str:
    with database.session() as session:
        return endpoints.create(
            session,
            organization_id=tenant.organization_id,
            url="https://hooks.invalid/o",
            events=["*"],
            ordering=ordering,
        ).id


def emit(database: Database, tenant: Tenant, keys: list[str]) -> list[str]:
    """One repository.connected event per key, in this order, in one transaction: their event ids."""
    with database.session() as session:
        return emit_in(session, tenant, keys)


def emit_in(session: Any, tenant: Tenant, keys: list[str]) -> list[str]:
    data = [RepositoryConnected(repository_id=k, name=k, url="https://example.com/r.git", kind="remote") for k in keys]
    return [e.id for e in events.emit_many(session, organization_id=tenant.organization_id, data=data)]


def parked(database: Database) -> dict[str, bool]:
    """event id -> parked (pending with no due time), for every pending delivery."""
    with database.session() as session:
        rows = session.execute(
            select(Delivery.event_id, Delivery.next_attempt_at).where(Delivery.status == DeliveryStatus.PENDING)
        )
        return {event_id: due is None for event_id, due in rows}


def claim(database: Database, limit: int = 100) -> list[queue.Job]:
    with database.session() as session:
        return queue.claim(session, limit=limit, lease_seconds=30)


def record(database: Database, job: queue.Job, status: int = 200) -> list[str]:
    outcome = Outcome(started_at=datetime.now(UTC), duration_ms=1.0, status_code=status)
    with database.session() as session:
        return outcomes.record(session, results=[queue.Result(job, {}, outcome)])


def test_fan_out_parks_what_is_held_and_the_claim_meets_only_heads(
    database: Database, tenant: Tenant, clock: Clock
) -> None:
    ordered_hook(database, tenant)
    with database.session() as session:
        plain = endpoints.create(
            session, organization_id=tenant.organization_id, url="https://hooks.invalid/p", events=["*"]
        ).id
    a1, b1, a2, a3 = emit(database, tenant, ["repo_a", "repo_b", "repo_a", "repo_a"])
    a4, c1 = emit(database, tenant, ["repo_a", "repo_c"])
    with database.session() as session:
        unordered = session.scalars(select(Delivery.next_attempt_at).where(Delivery.webhook_id == plain)).all()
    assert len(unordered) == 6 and None not in unordered  # an unordered endpoint's deliveries are all due
    with database.session() as session:
        rows = session.execute(
            select(Delivery.event_id, Delivery.next_attempt_at).where(Delivery.webhook_id != plain)
        ).all()
    ordered = {e: due is None for e, due in rows}
    assert ordered == {a1: False, b1: False, a2: True, a3: True, a4: True, c1: False}
    jobs = claim(database)
    keyed = sorted(j.event_id for j in jobs if j.order_key is not None)
    assert keyed == sorted([a1, b1, c1]) and len(jobs) == 3 + 6  # the heads, and the unordered endpoint's six


def test_every_end_of_a_head_releases_the_next_in_its_transaction(
    database: Database, tenant: Tenant, clock: Clock
) -> None:
    ordered_hook(database, tenant)
    a1, a2, a3, a4 = emit(database, tenant, ["repo_a"] * 4)
    [head] = claim(database)
    assert head.event_id == a1
    # Success: the next is due at once (the same transaction), the rest stay parked.
    assert record(database, head) == [head.delivery_id]
    assert parked(database) == {a2: False, a3: True, a4: True}
    [second] = claim(database)
    assert second.event_id == a2
    # A failure with a retry left holds the key: nothing released; the failure for good releases the next.
    record(database, second, status=500)
    assert parked(database) == {a2: False, a3: True, a4: True} and claim(database) == []
    clock.advance(60)
    [again] = claim(database)
    assert (again.event_id, again.number) == (a2, 2)
    record(database, again, status=500)
    assert parked(database) == {a3: False, a4: True}
    # A worker dies mid-delivery: its lease runs out, the head is taken again (never the next), and the outcome of
    # the retaken one releases; the dead worker's late outcome records (and releases) nothing.
    [taken] = claim(database)
    assert taken.event_id == a3
    clock.advance(31)
    [retaken] = claim(database)
    assert retaken.event_id == a3 and retaken.lease_token != taken.lease_token
    assert record(database, taken) == [] and parked(database) == {a3: False, a4: True}
    assert record(database, retaken) == [retaken.delivery_id]
    assert parked(database) == {a4: False}
    [last] = claim(database)
    assert last.event_id == a4


def test_ordering_changed_to_none_keeps_the_held_in_order_and_new_events_due(
    database: Database, tenant: Tenant, clock: Clock
) -> None:
    """A new ordering applies to deliveries made from then on: the held ones keep their key and their order, and
    go one by one as before; new events are unordered and due at once."""
    hook = ordered_hook(database, tenant)
    a1, a2, a3 = emit(database, tenant, ["repo_a"] * 3)
    with database.session() as session:
        endpoints.update_(session, organization_id=tenant.organization_id, webhook_id=hook, ordering=None)
    (late,) = emit(database, tenant, ["repo_a"])
    assert parked(database) == {a1: False, a2: True, a3: True, late: False}
    jobs = {j.event_id: j for j in claim(database)}
    assert set(jobs) == {a1, late}
    record(database, jobs[a1])
    assert parked(database)[a2] is False and parked(database)[a3] is True


def test_a_redelivery_of_a_held_delivery_is_unordered_and_due(database: Database, tenant: Tenant, clock: Clock) -> None:
    """A redelivery (and a recovery) is a copy without a key, sent at once; the held original keeps its place."""
    ordered_hook(database, tenant)
    a1, a2 = emit(database, tenant, ["repo_a"] * 2)
    with database.session() as session:
        held = session.scalar(select(Delivery.id).where(Delivery.event_id == a2))
        assert held is not None
        copy = deliveries.redeliver(session, organization_id=tenant.organization_id, delivery_id=held)
        assert copy.order_key is None and copy.next_attempt_at is not None
    assert {j.event_id for j in claim(database)} == {a1, a2}  # the head, and the copy
    with database.session() as session:
        assert session.scalar(select(Delivery.next_attempt_at).where(Delivery.id == held)) is None


@pytest.mark.parametrize("backend", ["postgresql"])  # concurrent writers: SQLite runs one transaction at a time
@pytest.mark.parametrize("first", ["fan_out", "record"])
def test_a_fan_out_and_the_head_it_parks_behind_finishing_at_once_lose_nothing(
    database: Database, database_url: str, tenant: Tenant, clock: Clock, first: str
) -> None:
    """The fan-out parks its delivery behind the head (seen pending) while another transaction records that head's
    success: whichever takes the key's lock first, the new delivery ends up due once both committed."""
    ordered_hook(database, tenant)
    (a1,) = emit(database, tenant, ["repo_a"])
    [head] = claim(database)
    holding, go = threading.Event(), threading.Event()
    errors: list[BaseException] = []
    new: list[str] = []

    def fan_out() -> None:
        try:
            with database.session() as session:
                new.extend(emit_in(session, tenant, ["repo_a"]))
                holding.set()
                go.wait(10)
        except BaseException as exc:  # reported by the test
            errors.append(exc)
            holding.set()

    def finish() -> None:
        try:
            outcome = Outcome(started_at=datetime.now(UTC), duration_ms=1.0, status_code=200)
            with database.session() as session:
                outcomes.record(session, results=[queue.Result(head, {}, outcome)])
                holding.set()
                go.wait(10)
        except BaseException as exc:
            errors.append(exc)
            holding.set()

    steps = [fan_out, finish] if first == "fan_out" else [finish, fan_out]
    one = threading.Thread(target=steps[0])
    one.start()
    assert holding.wait(10)
    two = threading.Thread(target=steps[1])
    two.start()
    with database.engine.connect() as conn:  # the second waits for the key's lock, held by the first
        wait_for(
            lambda: (
                conn.execute(
                    text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
                ).scalar_one()
                == 1
            ),
            what="the second transaction waiting for the key's lock",
        )
    go.set()
    one.join(10)
    two.join(10)
    assert not errors, errors
    assert parked(database) == {new[0]: False}
    [nxt] = claim(database)
    assert nxt.event_id == new[0] and a1 != new[0]


def test_the_migration_parks_the_held_and_going_down_makes_them_due(empty_database_url: str) -> None:  # noqa: F811
    db = Database(empty_database_url, pool_size=1)
    try:
        upgrade_to(db, "0014_change_categories")
        org = old_tenant(db)
        put(
            db,
            "webhooks",
            id="wh_o",
            organization_id=org,
            url="https://hooks.invalid/o",
            secret="s",
            description="",
            enabled=True,
            updated_at=datetime(2024, 1, 2, tzinfo=UTC),
            events=["*"],
            ordering="per_repository",
        )
        due = datetime(2026, 1, 1, tzinfo=UTC)
        for n, key in enumerate(["repo_a", "repo_a", "repo_b", "repo_a", None]):
            put(
                db,
                "webhook_deliveries",
                id=f"dlv_{n}",
                organization_id=org,
                webhook_id="wh_o",
                event_id=f"evt_{n}",
                event_type="repository.connected",
                is_test=False,
                status="pending",
                attempts=0,
                next_attempt_at=due,
                order_key=key,
                order_seq=1 if key else None,
            )
        put(
            db,
            "webhook_deliveries",
            id="dlv_9",
            organization_id=org,
            webhook_id="wh_o",
            event_id="evt_9",
            event_type="repository.connected",
            is_test=False,
            status="succeeded",
            attempts=1,
            order_key="repo_b",
            order_seq=0,
        )

        def held() -> list[str]:
            with db.engine.connect() as conn:
                rows = conn.execute(
                    text("SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at IS NULL")
                )
                return sorted(r[0] for r in rows)

        migrate.upgrade(db.engine)
        assert held() == ["dlv_1", "dlv_3"]  # behind dlv_0 (repo_a's head); repo_b's head and the unkeyed are due
        cfg = migrate.alembic_config()
        from alembic import command

        with db.engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.downgrade(cfg, "0014_change_categories")
        assert held() == []
    finally:
        db.dispose()


def test_the_delivery_log_says_a_held_delivery_waits(
    database: Database, tenant: Tenant, clock: Clock, client: TestClient
) -> None:
    hook = ordered_hook(database, tenant)
    a1, a2 = emit(database, tenant, ["repo_a"] * 2)
    with database.session() as session:
        ids = {
            event_id: delivery_id for event_id, delivery_id in session.execute(select(Delivery.event_id, Delivery.id))
        }
    page = _signed_in(client, tenant)
    held = page.get(f"/settings/deliveries/{ids[a2]}").text
    assert "held: waits for an earlier delivery of its ordering key to finish" in held
    assert "held:" not in page.get(f"/settings/deliveries/{ids[a1]}").text
    listed = page.get(f"/settings/webhooks/{hook}").text
    assert listed.count("held: waits for an earlier delivery of its ordering key") == 1
