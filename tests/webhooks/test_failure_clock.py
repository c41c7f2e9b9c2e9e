"""The auto-disable clock: only real deliveries move it, and only failures spread over the whole window disable.

Deliveries go to a real receiver on loopback; time is `tests.clock.Clock` over every module that reads "now" (which
stamps fan-out, claims and recorded outcomes), moved by the test, so days of failures take no time. Each
`deliver_due` is one dispatcher pass: claim what is due at the moved clock, POST it, record the outcomes.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gitproductivity.core.db import Database
from gitproductivity.core.settings import get_settings
from gitproductivity.webhooks import outcomes, queue
from gitproductivity.webhooks.dispatcher import send_one
from gitproductivity.webhooks.health import MAX_GAP_FRACTION
from gitproductivity.webhooks.models import Webhook
from gitproductivity.webhooks.queue import Result
from gitproductivity.webhooks.sender import HttpSender
from tests.clock import Clock, moved_clock
from tests.conftest import run_async
from tests.webhooks.conftest import Receiver, configure

DAY = 86400.0
WINDOW = 5 * DAY


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return moved_clock(monkeypatch)


@pytest.fixture
def slow_retries(database: Database, database_url: str, tmp_path: Path) -> None:
    # Retries 10 hours apart: within this test's days only the deliveries the test makes are due when it says.
    configure(database_url, tmp_path, webhook_auto_disable_after=WINDOW, retry_schedule="36000,36000,36000,36000,36000")


def deliver_due(database: Database) -> list[bool]:
    """One dispatcher pass at the moved clock: claim what is due, POST it to the receiver, record the outcomes."""
    with database.session() as session:
        jobs = queue.claim(session, limit=100, lease_seconds=60)

    async def send() -> list[Result]:
        sender = HttpSender(get_settings())
        try:
            return [await send_one(sender, job) for job in jobs]
        finally:
            await sender.close()

    results = run_async(send)
    with database.session() as session:
        outcomes.record(session, results=results)
    return [r.outcome.ok for r in results]


def event(api: TestClient, n: int) -> None:
    assert api.post("/v1/developers", json={"name": f"D{n}", "email": f"d{n}@example.com"}).status_code == 201


def state(database: Database, hook_id: str) -> Webhook:
    with database.session() as session:
        hook = session.get(Webhook, hook_id)
        assert hook is not None
        session.expunge(hook)
        return hook


def add_hook(api: TestClient, url: str) -> dict[str, Any]:
    resp = api.post("/v1/webhooks", json={"url": url, "events": ["developer.added"]})
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def disabled_notices(api: TestClient, hook_id: str) -> list[dict[str, Any]]:
    notes = api.get("/v1/notifications").json()["data"]
    return [n for n in notes if n["kind"] == "webhook.disabled" and n["subject_id"] == hook_id]


def test_a_failed_test_at_save_then_one_real_failure_days_later_does_not_disable(
    api: TestClient, database: Database, receiver: Receiver, clock: Clock, slow_retries: None
) -> None:
    hook = add_hook(api, receiver.url("/fail"))  # the receiver is not deployed yet: the test webhook fails
    assert hook["test"]["ok"] is False and hook["test"]["status_code"] == 500
    assert state(database, hook["id"]).failing_since is None  # a test does not start the clock

    clock.advance(WINDOW + 3600)  # the first real event, days later, fails too
    event(api, 1)
    assert deliver_due(database) == [False]
    shown = api.get(f"/v1/webhooks/{hook['id']}").json()
    assert shown["status"] == "enabled" and disabled_notices(api, hook["id"]) == []
    assert state(database, hook["id"]).failing_since == clock.now  # the clock starts at the first real failure

    # One more failure after a silence longer than a quarter of the window is not "failing for 5 days" either:
    # the clock starts again there. (README and docs/delivery.md say 30 hours: longer than the last retry's 24.)
    assert WINDOW * MAX_GAP_FRACTION == 30 * 3600
    clock.advance(WINDOW * MAX_GAP_FRACTION + 60)
    event(api, 2)
    assert deliver_due(database) == [False, False]  # the new event and the first one's retry, both due
    hook_now = state(database, hook["id"])
    assert hook_now.enabled and hook_now.failing_since == clock.now and hook_now.last_failure_at == clock.now

    # Nor does a failed test sent later move it.
    started = hook_now.failing_since
    clock.advance(3600)
    assert api.post(f"/v1/webhooks/{hook['id']}/test").json()["ok"] is False
    assert state(database, hook["id"]).last_failure_at == started


def test_failures_spread_over_the_window_disable_with_a_notice(
    api: TestClient, database: Database, receiver: Receiver, clock: Clock, slow_retries: None
) -> None:
    hook = add_hook(api, receiver.url("/fail"))
    event(api, 0)
    assert deliver_due(database) == [False]
    started = clock.now
    n = 0
    while clock.now - started < timedelta(seconds=WINDOW - DAY):  # a failure a day, just short of the window
        n += 1
        clock.advance(DAY)
        event(api, n)
        assert not any(deliver_due(database))
        assert api.get(f"/v1/webhooks/{hook['id']}").json()["status"] == "enabled"
    assert state(database, hook["id"]).failing_since == started

    # A successful test webhook (the URL briefly answering) does not reset the clock either.
    api.patch(f"/v1/webhooks/{hook['id']}", json={"url": receiver.url("/ok")})
    assert api.post(f"/v1/webhooks/{hook['id']}/test").json()["ok"] is True
    assert state(database, hook["id"]).failing_since == started
    api.patch(f"/v1/webhooks/{hook['id']}", json={"url": receiver.url("/fail")})

    clock.advance(DAY)  # the window is full: this failure disables the endpoint
    event(api, n + 1)
    assert not any(deliver_due(database))
    shown = api.get(f"/v1/webhooks/{hook['id']}").json()
    assert shown["status"] == "disabled" and "disabled automatically" in shown["disabled_reason"]
    assert shown["failing_since"].startswith(started.strftime("%Y-%m-%dT%H:%M:%S"))
    [notice] = disabled_notices(api, hook["id"])
    assert hook["id"] in notice["body"]  # the technical record; the subject is in words
    assert notice["subject"] == f"Webhook {receiver.url('/fail')} was disabled after failing for 5 days"

    # Held, not lost: the pending deliveries go out once the endpoint is fixed and enabled again.
    pending = [d for d in api.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["data"] if d["status"] == "pending"]
    assert pending
    assert deliver_due(database) == []  # nothing is sent to a disabled endpoint
    api.patch(f"/v1/webhooks/{hook['id']}", json={"url": receiver.url("/ok"), "enabled": True})
    assert state(database, hook["id"]).failing_since is None
    clock.advance(36000)
    assert all(deliver_due(database))
    done = {d["id"]: d["status"] for d in api.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["data"]}
    assert all(done[d["id"]] == "succeeded" for d in pending)


def test_a_success_in_between_restarts_the_clock(
    api: TestClient, database: Database, receiver: Receiver, clock: Clock, slow_retries: None
) -> None:
    hook = add_hook(api, receiver.url("/fail"))
    for n in range(4):  # failing for three days
        event(api, n)
        assert not any(deliver_due(database))
        clock.advance(DAY)
    api.patch(f"/v1/webhooks/{hook['id']}", json={"url": receiver.url("/ok")})
    event(api, 10)
    assert all(deliver_due(database))  # the new event and the old ones' retries: a real success
    assert state(database, hook["id"]).failing_since is None
    api.patch(f"/v1/webhooks/{hook['id']}", json={"url": receiver.url("/fail")})

    restarted = None
    for n in range(20, 25):  # five failures over four days: seven days since the first failure of all
        clock.advance(DAY)
        event(api, n)
        assert not any(deliver_due(database))
        restarted = restarted or clock.now
        assert api.get(f"/v1/webhooks/{hook['id']}").json()["status"] == "enabled"
    assert state(database, hook["id"]).failing_since == restarted

    clock.advance(DAY)  # five days since the success's next failure: now it is disabled
    event(api, 30)
    deliver_due(database)
    assert api.get(f"/v1/webhooks/{hook['id']}").json()["status"] == "disabled"
    assert len(disabled_notices(api, hook["id"])) == 1
