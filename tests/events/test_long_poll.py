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


def add(database: Database, tenant: Tenant, name: str) -> None:
    with database.session() as session:
        service.create(session, organization_id=tenant.organization_id, name=name, email=f"{name}@example.com")


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

    def wait_for(self, count: int, thread: threading.Thread, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while self.count < count:
            assert thread.is_alive(), "the poll answered before it waited"
            assert time.monotonic() < deadline, f"the poll looked {self.count} times, not {count}"
            time.sleep(0.01)


def poll_in_thread(api: TestClient, params: dict[str, Any]) -> tuple[threading.Thread, dict[str, Any]]:
    result: dict[str, Any] = {}

    def run() -> None:
        started = time.monotonic()
        response = api.get("/v1/events", params=params)
        result.update(status=response.status_code, body=response.json(), elapsed=time.monotonic() - started)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def test_returns_at_once_when_events_exist_and_after_the_wait_when_not(
    api: TestClient, database: Database, tenant: Tenant
) -> None:
    add(database, tenant, "ada")
    started = time.monotonic()
    page = api.get("/v1/events", params={"wait": 20}).json()
    assert time.monotonic() - started < 10
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
    thread, result = poll_in_thread(api, {"after": cursor, "wait": 30, "type": "developer.added"})
    looks.wait_for(1, thread)  # it looked, found nothing, and waits
    add(database, tenant, "second")
    thread.join(timeout=25)
    assert result["status"] == 200
    assert [e["data"]["name"] for e in result["body"]["data"]] == ["second"]
    assert result["elapsed"] < 20


def test_a_commit_by_another_process_is_found_by_polling(
    api: TestClient, database: Database, database_url: str, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    looks = Looks(monkeypatch)
    thread, result = poll_in_thread(api, {"wait": 40})
    looks.wait_for(1, thread)  # the commit comes after the poll's first look
    exe = str(Path(sys.executable).with_name("gitproductivity"))
    env = {**os.environ, "GITPRODUCTIVITY_DATABASE_URL": database_url}
    subprocess.run(
        [exe, "developers", "add", "Remote", "remote@example.com", "--org", tenant.organization_id],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    thread.join(timeout=40)
    assert [e["data"]["email"] for e in result["body"]["data"]] == ["remote@example.com"]
    assert result["elapsed"] < 35


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
    thread, result = poll_in_thread(api, {"wait": 30})
    looks.wait_for(1, thread)
    add(database, other_tenant, "stranger")
    looks.wait_for(2, thread)  # woken, it looked again, well inside its 30 s, and is still waiting
    add(database, tenant, "ours")
    thread.join(timeout=25)
    assert result["status"] == 200
    assert [e["data"]["name"] for e in result["body"]["data"]] == ["ours"]


def test_the_wait_is_capped_by_the_setting(api: TestClient, database_url: str, tmp_path: Path) -> None:
    settings.configure(database_url=database_url, data_dir=tmp_path / "data", long_poll_max_wait=0.2)
    started = time.monotonic()
    assert api.get("/v1/events", params={"wait": 30}).json()["data"] == []
    assert time.monotonic() - started < 10
