"""`GET /v1/events?wait=…`: answers as soon as an event commits, here or in another process."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gitproductivity.core import settings
from gitproductivity.core.db import Database
from gitproductivity.developers import service
from gitproductivity.events import service as events_service
from tests.conftest import Tenant

WAIT = 30.0  # the long-polls' `wait`: every wake-up below must come well inside it


def add(database: Database, tenant: Tenant, name: str) -> None:
    with database.session() as session:
        service.create(session, organization_id=tenant.organization_id, name=name, email=f"{name}@example.com")


class Poll:
    """`GET /v1/events` with `wait`, in a daemon thread. As a context manager it never leaves the request running
    into the client's teardown (which would hang): on exit it waits for the poll to end, which it must by its own
    `wait` at the latest, and fails if it does not."""

    def __init__(self, api: TestClient, params: dict[str, Any]) -> None:
        self.api = api
        self.params = params
        self.wait = float(params["wait"])
        self.result: dict[str, Any] = {}
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        started = time.monotonic()
        response = self.api.get("/v1/events", params=self.params)
        self.result.update(status=response.status_code, body=response.json(), elapsed=time.monotonic() - started)

    def __enter__(self) -> Poll:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.thread.join(timeout=self.wait + 30)
        assert not self.thread.is_alive(), f"the poll was still waiting {self.wait + 30:g} s after its {self.wait:g} s"

    def answer(self, within: float) -> dict[str, Any]:
        """The poll's answer, which must come within `within` seconds (less than its wait: woken, not timed out)."""
        self.thread.join(timeout=within)
        assert not self.thread.is_alive(), f"the poll was not woken: still waiting after {within:g} s"
        assert self.result["status"] == 200, self.result
        return self.result


class Looks:
    """Counts the long-poll's looks at the database (a spy around the real `events.service.list_`): once it has
    looked and found nothing, the poll is waiting, and only a wake-up (or its poll interval) makes it look again."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = events_service.list_

        def counted(*args: Any, **kwargs: Any) -> Any:
            found = real(*args, **kwargs)
            self.count += 1
            return found

        monkeypatch.setattr(events_service, "list_", counted)

    def wait_for(self, count: int, poll: Poll, within: float, why: str = "") -> None:
        """Until the poll has looked `count` times; `within` seconds at most (less than the poll's wait)."""
        deadline = time.monotonic() + within
        while self.count < count:
            assert poll.thread.is_alive(), f"the poll answered after {self.count} looks, before it waited"
            assert time.monotonic() < deadline, f"the poll looked {self.count} times in {within:g} s, not {count}{why}"
            time.sleep(0.01)


def test_returns_at_once_when_events_exist_and_after_the_wait_when_not(
    api: TestClient, database: Database, tenant: Tenant
) -> None:
    add(database, tenant, "ada")
    started = time.monotonic()
    page = api.get("/v1/events", params={"wait": WAIT}).json()
    assert time.monotonic() - started < WAIT / 2  # answered at once, not at the end of its wait
    assert [e["data"]["name"] for e in page["data"]] == ["ada"]

    started = time.monotonic()
    empty = api.get("/v1/events", params={"after": page["next_cursor"], "wait": 0.6}).json()
    assert time.monotonic() - started >= 0.6
    assert empty == {"data": [], "has_more": False, "next_cursor": page["next_cursor"]}


def test_a_commit_in_this_process_wakes_the_long_poll(
    api: TestClient, database: Database, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events_service, "WAIT_POLL_INTERVAL", 600)  # only the wake-up can answer in time
    add(database, tenant, "first")
    cursor = api.get("/v1/events").json()["next_cursor"]
    looks = Looks(monkeypatch)
    with Poll(api, {"after": cursor, "wait": WAIT, "type": "developer.added"}) as poll:
        looks.wait_for(1, poll, within=WAIT / 2)  # it looked, found nothing, and waits
        add(database, tenant, "second")
        result = poll.answer(within=WAIT / 2)
    assert [e["data"]["name"] for e in result["body"]["data"]] == ["second"]


def test_a_commit_by_another_process_is_found_by_polling(
    api: TestClient, database: Database, database_url: str, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    looks = Looks(monkeypatch)
    with Poll(api, {"wait": 60}) as poll:
        looks.wait_for(1, poll, within=30)  # the commit comes after the poll's first look
        exe = str(Path(sys.executable).with_name("gitproductivity"))
        env = {**os.environ, "GITPRODUCTIVITY_DATABASE_URL": database_url}
        subprocess.run(
            [exe, "developers", "add", "Remote", "remote@example.com", "--org", tenant.organization_id],
            env=env,
            check=True,
            capture_output=True,
            timeout=30,
        )
        result = poll.answer(within=30)  # found by a look (one a second), long before the end of its 60 s
    assert [e["data"]["email"] for e in result["body"]["data"]] == ["remote@example.com"]


def test_newest_gives_a_cursor_to_follow_from_now(api: TestClient, database: Database, tenant: Tenant) -> None:
    assert api.get("/v1/events", params={"newest": True}).json() == {"data": [], "has_more": False, "next_cursor": None}
    for name in ("a", "b", "c"):
        add(database, tenant, name)
    newest = api.get("/v1/events", params={"newest": True, "limit": 1}).json()
    assert [e["data"]["name"] for e in newest["data"]] == ["c"]
    assert api.get("/v1/events", params={"after": newest["next_cursor"]}).json()["data"] == []


def test_bad_waits_and_cursors_are_clear_errors(api: TestClient, other_tenant: Tenant, database: Database) -> None:
    assert api.get("/v1/events", params={"wait": 61}).status_code == 422
    assert api.get("/v1/events", params={"wait": -1}).status_code == 422
    missing = api.get("/v1/events", params={"wait": 5, "after": "evt_unknown"})
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert api.get("/v1/events", params={"wait": 1, "type": "nope"}).status_code == 422


def test_another_organisations_event_never_fills_the_poll(
    api: TestClient, database: Database, tenant: Tenant, other_tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The foreign event commits while the poll waits: it wakes the poll (one channel for every organisation),
    which looks again, finds nothing of its own, and goes on waiting until its own organisation's event."""
    monkeypatch.setattr(events_service, "WAIT_POLL_INTERVAL", 600)  # a second look can only come from the wake-up
    looks = Looks(monkeypatch)
    with Poll(api, {"wait": WAIT}) as poll:
        looks.wait_for(1, poll, within=WAIT / 3)
        add(database, other_tenant, "stranger")
        # Woken, it looked again, well inside its wait, and is still waiting.
        looks.wait_for(2, poll, within=WAIT / 3, why=": the foreign commit did not wake it")
        add(database, tenant, "ours")
        result = poll.answer(within=WAIT / 3)
    assert [e["data"]["name"] for e in result["body"]["data"]] == ["ours"]


def test_the_wait_is_capped_by_the_setting(api: TestClient, database_url: str, tmp_path: Path) -> None:
    settings.configure(database_url=database_url, data_dir=tmp_path / "data", long_poll_max_wait=0.2)
    started = time.monotonic()
    assert api.get("/v1/events", params={"wait": WAIT}).json()["data"] == []
    assert time.monotonic() - started < WAIT / 2  # the setting's 0.2 s, not the asked-for wait
