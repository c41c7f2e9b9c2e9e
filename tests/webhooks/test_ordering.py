"""Ordered delivery (webhooks.ordering), with real receivers and the real dispatcher on both databases, and two
`gitproductivity worker` processes on PostgreSQL.

The receiver keeps, per ordering key, the event ids in the order they arrived and how many requests of the key it
was answering at once: the order must be the feed's, and never two of one key at a time.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from fastapi.testclient import TestClient
from sqlalchemy import select

from gitproductivity.core.db import Database
from gitproductivity.core.settings import Settings
from gitproductivity.events import service as events
from gitproductivity.events.payloads import DeveloperAdded, RepositoryConnected
from gitproductivity.webhooks import endpoints
from gitproductivity.webhooks.models import Delivery
from tests.conftest import Tenant
from tests.webhooks.conftest import Receiver, RunningDispatcher, configure, wait_for
from tests.webhooks.test_workers import Workers


@dataclass
class KeyedReceiver(Receiver):
    """Answers 200 after `delay` seconds, or 500 while `failing(event_id, tries so far)` says so; records per key
    (`data.repository_id`, else `data.developer_id`) the arrivals' event ids and the most answered at once."""

    delay: float = 0.0
    failing: Callable[[str, int], bool] = lambda event_id, tries: False
    arrivals: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    answered: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # event ids answered 200
    busy: Counter[str] = field(default_factory=Counter)
    most_at_once: Counter[str] = field(default_factory=Counter)

    async def answer(self, request: web.Request, body: bytes) -> web.StreamResponse:
        envelope = json.loads(body)
        if envelope["type"] == "webhook.test":
            return web.json_response({})
        data = envelope["data"]
        key = data.get("repository_id") or data.get("developer_id")
        event_id = envelope["id"]
        tries = self.arrivals[key].count(event_id)
        self.arrivals[key].append(event_id)
        self.busy[key] += 1
        self.most_at_once[key] = max(self.most_at_once[key], self.busy[key])
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.failing(event_id, tries):
                return web.Response(status=500, text="not now")
            self.answered[key].append(event_id)
            return web.json_response({"received": True})
        finally:
            self.busy[key] -= 1


def started(receiver: Receiver) -> Receiver:
    receiver.start()
    return receiver


def emit_keyed(database: Database, tenant: Tenant, keys: list[str], per_key: int) -> dict[str, list[str]]:
    """`per_key` repository.connected events for each key, interleaved, in one transaction: event ids per key in
    feed order."""
    data = [
        RepositoryConnected(repository_id=key, name=f"{key}-{n}", url="https://example.com/r.git", kind="remote")
        for n in range(per_key)
        for key in keys
    ]
    with database.session() as session:
        written = events.emit_many(session, organization_id=tenant.organization_id, data=data)
        order = [(e.id, json.loads(e.payload)["data"]["repository_id"]) for e in written]
    by_key: dict[str, list[str]] = defaultdict(list)
    for event_id, key in order:
        by_key[key].append(event_id)
    return by_key


def once_each(arrivals: list[str]) -> list[str]:
    """Arrivals with retries of the same event folded into one."""
    return [e for i, e in enumerate(arrivals) if i == 0 or arrivals[i - 1] != e]


def add_hook(api: TestClient, url: str, **extra: Any) -> dict[str, Any]:
    resp = api.post("/v1/webhooks", json={"url": url, "events": ["*"], **extra})
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


# --- the setting ----------------------------------------------------------------------------------------------


def test_ordering_is_set_kept_changed_and_checked(api: TestClient, fast: Settings) -> None:
    hook = add_hook(api, "https://hooks.invalid/in", ordering="per_repository")
    assert hook["ordering"] == "per_repository"
    assert add_hook(api, "https://hooks.invalid/other")["ordering"] == "none"
    kept = api.patch(f"/v1/webhooks/{hook['id']}", json={"description": "ordered"})
    assert kept.json()["ordering"] == "per_repository"
    changed = api.patch(f"/v1/webhooks/{hook['id']}", json={"ordering": "per_developer"})
    assert changed.status_code == 200 and changed.json()["ordering"] == "per_developer"
    refused = api.patch(f"/v1/webhooks/{hook['id']}", json={"ordering": "per_team"})
    assert refused.status_code == 422 and "ordering" in refused.text
    assert api.get(f"/v1/webhooks/{hook['id']}").json()["ordering"] == "per_developer"
    spec = api.get("/openapi.json").json()["components"]["schemas"]
    assert "per_developer" in json.dumps(spec["WebhookCreate"]["properties"]["ordering"])


def test_fan_out_stores_the_key_of_an_ordered_endpoint_only(database: Database, tenant: Tenant, fast: Settings) -> None:
    with database.session() as session:
        by_developer = endpoints.create(
            session,
            organization_id=tenant.organization_id,
            url="https://hooks.invalid/a",
            events=["*"],
            ordering="per_developer",
        ).id
        plain = endpoints.create(
            session, organization_id=tenant.organization_id, url="https://hooks.invalid/b", events=["*"]
        ).id
    with database.session() as session:
        events.emit_many(
            session,
            organization_id=tenant.organization_id,
            data=[DeveloperAdded(developer_id="dev_x", name="X", email="x@example.com"), RepositoryConnected.example],
        )
    with database.session() as session:
        rows = session.execute(
            select(Delivery.webhook_id, Delivery.event_type, Delivery.order_key).where(Delivery.is_test.is_(False))
        ).all()
    keys = {(hook, kind): key for hook, kind, key in rows}
    assert keys == {
        (by_developer, "developer.added"): "dev_x",
        (by_developer, "repository.connected"): None,  # no developer_id: not ordered
        (plain, "developer.added"): None,
        (plain, "repository.connected"): None,
    }


# --- the order, at a real receiver --------------------------------------------------------------------------------


@pytest.fixture
def patient(database: Database, database_url: str, tmp_path: Path) -> Settings:
    """Three retries 50 ms apart, then 0.5 s and 5 s: room for another key's ten deliveries, one at a time."""
    return configure(database_url, tmp_path, retry_schedule="0.05,0.05,0.05,0.5,5")


def test_a_failing_head_holds_its_key_only_and_the_order_is_kept(
    api: TestClient, tenant: Tenant, database: Database, patient: Settings
) -> None:
    """The head of repository A fails three times, and keeps failing until every event of B has arrived: B is not
    held back by A (else A's head fails for good and this never ends), and A's events arrive in feed order, each
    after the one before it succeeded."""
    dispatcher = RunningDispatcher(database)
    head: list[str] = []
    receiver: KeyedReceiver = KeyedReceiver()

    def failing(event_id: str, tries: int) -> bool:
        return event_id == head[0] and (tries < 3 or len(receiver.answered["repo_b"]) < 10)

    receiver.failing = failing
    started(receiver)
    try:
        add_hook(api, receiver.url("/ordered"), ordering="per_repository")
        feed = emit_keyed(database, tenant, ["repo_a", "repo_b"], 10)
        head.append(feed["repo_a"][0])
        wait_for(lambda: len(receiver.answered["repo_a"]) == 10, timeout=30, what="every event of repository A")
        wait_for(lambda: len(receiver.answered["repo_b"]) == 10, what="every event of repository B")
        for key in ("repo_a", "repo_b"):
            assert once_each(receiver.arrivals[key]) == feed[key], key
            assert receiver.answered[key] == feed[key], key
            assert receiver.most_at_once[key] == 1, key
        a = receiver.arrivals["repo_a"]
        tries = a.count(head[0])
        assert tries >= 4 and a == [head[0]] * tries + feed["repo_a"][1:]  # the later ones waited, untried
    finally:
        dispatcher.stop()
        receiver.stop()


def test_a_head_that_fails_for_good_lets_the_next_one_go(
    api: TestClient, tenant: Tenant, database: Database, dispatcher: RunningDispatcher
) -> None:
    head: list[str] = []
    receiver = KeyedReceiver(failing=lambda event_id, tries: event_id == head[0])
    started(receiver)
    try:
        add_hook(api, receiver.url("/ordered"), ordering="per_repository")
        feed = emit_keyed(database, tenant, ["repo_a"], 5)
        head.append(feed["repo_a"][0])
        wait_for(lambda: len(receiver.answered["repo_a"]) == 4, timeout=30, what="the events after the head")
        arrivals = receiver.arrivals["repo_a"]
        tries = arrivals.count(head[0])
        assert tries == 6  # the first try and five retries (FAST's schedule), all before the next event
        assert arrivals == [head[0]] * tries + feed["repo_a"][1:]
        with database.session() as session:
            status = session.scalar(select(Delivery.status).where(Delivery.event_id == head[0]))
        assert status == "failed"
    finally:
        receiver.stop()


def test_events_without_the_key_are_not_held(
    api: TestClient, tenant: Tenant, database: Database, dispatcher: RunningDispatcher
) -> None:
    """A per_developer endpoint: repository events have no developer_id, so a failing one holds nothing."""
    receiver = KeyedReceiver(failing=lambda event_id, tries: tries < 2)
    started(receiver)
    try:
        add_hook(api, receiver.url("/by-developer"), ordering="per_developer")
        feed = emit_keyed(database, tenant, ["repo_a"], 3)
        wait_for(lambda: len(receiver.answered["repo_a"]) == 3, timeout=30, what="the unordered events")
        # Unordered: all three were tried before any had its third try.
        assert set(receiver.arrivals["repo_a"][:3]) == set(feed["repo_a"])
    finally:
        receiver.stop()


# --- several worker processes -------------------------------------------------------------------------------------


@pytest.mark.slow  # two real `gitproductivity worker` processes
@pytest.mark.parametrize("backend", ["postgresql"])  # the claim's locking across processes is PostgreSQL's
def test_two_worker_processes_never_send_two_of_one_key_at_once(
    backend: str, fast: Settings, database: Database, database_url: str, tenant: Tenant, tmp_path: Path
) -> None:
    keys, per_key = ["repo_a", "repo_b", "repo_c", "repo_d"], 15
    receiver = KeyedReceiver(delay=0.02, failing=lambda event_id, tries: hash(event_id) % 7 == 0 and tries == 0)
    started(receiver)
    workers = Workers(
        database_url,
        tmp_path,
        GITPRODUCTIVITY_WEBHOOK_TIMEOUT="1",
        GITPRODUCTIVITY_WEBHOOK_LEASE_SECONDS="5",
        GITPRODUCTIVITY_RETRY_SCHEDULE="0.05,0.05,0.05",
    )
    try:
        with database.session() as session:
            hook_id = endpoints.create(
                session,
                organization_id=tenant.organization_id,
                url=receiver.url("/ordered"),
                events=["*"],
                ordering="per_repository",
            ).id
        for _ in range(2):
            workers.start()
        wait_for(
            lambda: workers.logs().count("webhook dispatcher started") == 2, timeout=60, what="two workers to start"
        )
        feed = emit_keyed(database, tenant, keys, per_key)
        wait_for(
            lambda: sum(len(receiver.answered[k]) for k in keys) == len(keys) * per_key,
            timeout=90,
            what="every event",
        )
        with database.session() as session:
            senders = Counter(session.scalars(select(Delivery.worker_id).where(Delivery.webhook_id == hook_id)))
        for key in keys:
            assert receiver.most_at_once[key] == 1, (key, receiver.most_at_once)
            assert once_each(receiver.arrivals[key]) == feed[key], key
            assert receiver.answered[key] == feed[key], key
        assert len(senders) == 2, senders  # both processes sent: the locking, not one worker, kept the order
        assert workers.stop_all() == [0, 0], workers.logs()
    finally:
        workers.stop_all()
        receiver.stop()
