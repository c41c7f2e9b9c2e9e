"""Per-endpoint rate limits (webhooks.pacing) and Retry-After (webhooks.policy), with real receivers and the real
dispatcher on both databases, and two `gitproductivity worker` processes sharing one limit on PostgreSQL.

The limit is checked where it matters, at the receiver: the requests that arrive in each one-second window,
counted from the first, against the limit plus a tolerance derived from the limit (a window may hold one slot
more than the rate, since slots fall on both of its edges, and a tenth for the jitter of the POSTs' start).
A slower machine only spreads requests further apart, so the check does not depend on the test's speed.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from fastapi.testclient import TestClient
from sqlalchemy import select

from gitproductivity.core.db import Database
from gitproductivity.core.settings import Settings
from gitproductivity.events import service as events
from gitproductivity.events.payloads import MetricsUpdated
from gitproductivity.webhooks import endpoints, policy
from gitproductivity.webhooks.models import Delivery, DeliveryAttempt
from tests.conftest import Tenant
from tests.webhooks.conftest import Receiver, RunningDispatcher, configure, wait_for
from tests.webhooks.test_workers import Workers


def tolerance(rate: float) -> int:
    return 1 + math.ceil(rate / 10)


def per_second(times: list[float]) -> list[int]:
    """Requests in consecutive one-second windows, from the first request's arrival."""
    first = min(times)
    counts = Counter(int(t - first) for t in times)
    return [counts.get(n, 0) for n in range(max(counts) + 1)]


def real(receiver: Receiver, path: str) -> list[float]:
    return [r.at for r in receiver.on(path) if r.headers["X-GitProductivity-Event"] != "webhook.test"]


def add_hook(api: TestClient, url: str, **extra: Any) -> dict[str, Any]:
    resp = api.post("/v1/webhooks", json={"url": url, "events": ["metrics.updated"], **extra})
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def emit(database: Database, tenant: Tenant, count: int) -> None:
    with database.session() as session:
        events.emit_many(session, organization_id=tenant.organization_id, data=[MetricsUpdated.example] * count)


def pending(database: Database) -> int:
    with database.session() as session:
        return len(session.scalars(select(Delivery.id).where(Delivery.status == "pending")).all())


# --- the setting ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -1, 10_001, "fast", True])
def test_a_rate_limit_must_be_a_positive_number_within_the_maximum(
    api: TestClient, receiver: Receiver, fast: Settings, bad: Any
) -> None:
    resp = api.post("/v1/webhooks", json={"url": receiver.url(), "events": ["*"], "rate_limit_per_second": bad})
    assert resp.status_code == 422, resp.text
    assert "rate_limit_per_second" in resp.text


def test_a_rate_limit_is_set_changed_kept_and_removed(
    api: TestClient, receiver: Receiver, fast: Settings, database: Database, tenant: Tenant
) -> None:
    hook = add_hook(api, receiver.url(), rate_limit_per_second=50)
    assert hook["rate_limit_per_second"] == 50
    assert api.get(f"/v1/webhooks/{hook['id']}").json()["rate_limit_per_second"] == 50
    changed = api.patch(f"/v1/webhooks/{hook['id']}", json={"rate_limit_per_second": 0.5})
    assert changed.status_code == 200 and changed.json()["rate_limit_per_second"] == 0.5
    kept = api.patch(f"/v1/webhooks/{hook['id']}", json={"description": "slow receiver"})
    assert kept.json()["rate_limit_per_second"] == 0.5
    refused = api.patch(f"/v1/webhooks/{hook['id']}", json={"rate_limit_per_second": 0})
    assert refused.status_code == 422
    removed = api.patch(f"/v1/webhooks/{hook['id']}", json={"rate_limit_per_second": None})
    assert removed.json()["rate_limit_per_second"] is None
    with database.session() as session, pytest.raises(Exception, match="rate_limit_per_second"):
        endpoints.update_(
            session, organization_id=tenant.organization_id, webhook_id=hook["id"], rate_limit_per_second=float("nan")
        )


# --- the limit, at a real receiver ------------------------------------------------------------------------------


@pytest.mark.slow  # waits out a real rate limit: 50 deliveries at 25 per second
def test_a_limited_endpoint_gets_its_rate_and_the_others_are_not_held_back(
    api: TestClient, tenant: Tenant, database: Database, database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    rate, count = 25, 50
    # A timeout and a lease no stall of a loaded machine outlasts (a full GC of the test process froze the
    # receiver past FAST's 0.5 s and 3 s once): a POST that times out is a second attempt, and a job held past
    # its lease is handed back and sent later, both by design, neither what this test is about.
    configure(database_url, tmp_path, webhook_timeout=5.0, webhook_lease_seconds=30.0)
    limited = add_hook(api, receiver.url("/limited"), rate_limit_per_second=rate)
    add_hook(api, receiver.url("/free"))
    dispatcher = RunningDispatcher(database)
    try:
        emit(database, tenant, count)
        wait_for(lambda: len(real(receiver, "/free")) == count, what="the endpoint without a limit")
        wait_for(lambda: len(real(receiver, "/limited")) == count, timeout=30, what="the limited endpoint")
        wait_for(lambda: not pending(database), what="every outcome recorded")
    finally:
        dispatcher.stop()
    arrivals = sorted(real(receiver, "/limited"))
    windows = per_second(arrivals)
    assert max(windows) <= rate + tolerance(rate), (windows, [round(t - arrivals[0], 3) for t in arrivals])
    assert len(windows) >= math.ceil(count / (rate + tolerance(rate))), windows
    # Waiting for a slot is not an attempt: each delivery was tried once, and succeeded.
    with database.session() as session:
        rows = session.execute(
            select(Delivery.status, Delivery.attempts).where(
                Delivery.webhook_id == limited["id"], Delivery.is_test.is_(False)
            )
        ).all()
        attempts = session.scalars(
            select(DeliveryAttempt.number)
            .join(Delivery)
            .where(Delivery.webhook_id == limited["id"], Delivery.is_test.is_(False))
        ).all()
    assert len(rows) == count and set(rows) == {("succeeded", 1)}
    assert sorted(attempts) == [1] * count


@pytest.mark.slow  # two real `gitproductivity worker` processes, and a real rate limit waited out
@pytest.mark.parametrize("backend", ["postgresql"])  # several worker processes share one limit through PostgreSQL
def test_two_worker_processes_share_one_limit(
    backend: str, fast: Settings, database: Database, database_url: str, tenant: Tenant, tmp_path: Path
) -> None:
    rate, count = 20, 100
    receiver = Receiver().start()
    workers = Workers(
        database_url, tmp_path, GITPRODUCTIVITY_WEBHOOK_TIMEOUT="1", GITPRODUCTIVITY_WEBHOOK_LEASE_SECONDS="3"
    )
    try:
        with database.session() as session:
            hook = endpoints.create(
                session,
                organization_id=tenant.organization_id,
                url=receiver.url("/limited"),
                events=["*"],
                rate_limit_per_second=rate,
            )
            hook_id = hook.id
        for _ in range(2):
            workers.start()
        wait_for(
            lambda: workers.logs().count("webhook dispatcher started") == 2, timeout=60, what="two workers to start"
        )
        emit(database, tenant, count)
        wait_for(lambda: len(receiver.on("/limited")) == count, timeout=60, what=f"{count} deliveries")
        windows = per_second([r.at for r in receiver.on("/limited")])
        with database.session() as session:
            senders = Counter(session.scalars(select(Delivery.worker_id).where(Delivery.webhook_id == hook_id)))
        assert max(windows) <= rate + tolerance(rate), (windows, senders)
        # Both processes sent: one limit held by two of them (a limit per process would have let 2 x 20 through).
        assert len(senders) == 2, senders
        assert workers.stop_all() == [0, 0], workers.logs()
    finally:
        workers.stop_all()
        receiver.stop()


# --- Retry-After ------------------------------------------------------------------------------------------------


class RetryAfterReceiver(Receiver):
    """`/busy/<status>/<retry-after>` answers the first real delivery with that status and Retry-After (`date`: an
    HTTP date 2 s ahead), then 200; test webhooks are answered 200."""

    async def answer(self, request: web.Request, body: bytes) -> web.StreamResponse:
        parts = request.path.split("/")
        real_ones = [r for r in self.on(request.path) if r.headers["X-GitProductivity-Event"] != "webhook.test"]
        if parts[1] == "busy" and request.headers["X-GitProductivity-Event"] != "webhook.test" and len(real_ones) == 1:
            value = parts[3] if parts[3] != "date" else format_datetime(datetime.now(UTC) + timedelta(seconds=2), True)
            return web.Response(status=int(parts[2]), text="slow down", headers={"Retry-After": value})
        return await super().answer(request, body)


@pytest.fixture
def busy_receiver() -> Iterator[RetryAfterReceiver]:
    r = RetryAfterReceiver()
    r.start()
    yield r
    r.stop()


@pytest.fixture
def schedule(database: Database, database_url: str, tmp_path: Path) -> Settings:
    """Retries 50 ms apart, the last step 3 s: the longest wait a Retry-After can get."""
    return configure(database_url, tmp_path, retry_schedule="0.05,0.05,0.05,0.05,3")


@pytest.mark.parametrize(
    ("path", "asked", "waited"),
    [
        ("/busy/429/1", 1.0, 1.0),  # honoured
        pytest.param("/busy/503/3600", 3600.0, 3.0, marks=pytest.mark.slow),  # clamped to the longest step; waits 3 s
        ("/busy/429/0", 0.0, 0.05),  # never sooner than the schedule's own step
        ("/busy/500/1", None, 0.05),  # only 429 and 503 carry a Retry-After we hear
        pytest.param("/busy/503/date", 2.0, 2.0, marks=pytest.mark.slow),  # an HTTP date, 1-2 s ahead when read
    ],
)
def test_retry_after_sets_the_next_try_within_the_schedule_and_is_logged(
    api: TestClient,
    tenant: Tenant,
    schedule: Settings,
    database: Database,
    busy_receiver: RetryAfterReceiver,
    path: str,
    asked: float | None,
    waited: float,
) -> None:
    add_hook(api, busy_receiver.url(path), events=["*"])
    running = RunningDispatcher(database)

    def log() -> list[DeliveryAttempt]:
        with database.session() as session:
            rows = session.scalars(
                select(DeliveryAttempt)
                .join(Delivery)
                .where(Delivery.is_test.is_(False))
                .order_by(DeliveryAttempt.number)
            ).all()
            session.expunge_all()
            return list(rows)

    try:
        with database.session() as session:
            events.emit(session, organization_id=tenant.organization_id, data=MetricsUpdated.example)
        attempts = wait_for(lambda: (rows := log()) and len(rows) == 2 and rows, what="the first try and the retry")
    finally:
        running.stop()
    first, second = attempts
    assert first.response_status == int(path.split("/")[2]) and second.response_status == 200
    if asked is None:
        assert first.retry_after_seconds is None
    else:
        assert first.retry_after_seconds == pytest.approx(asked, abs=1.0 if path.endswith("date") else 1e-9)
    assert first.next_retry_seconds == pytest.approx(waited, abs=1.0 if path.endswith("date") else 1e-9)
    # Never earlier than the wait scheduled (a lower bound: a slow machine only makes it later).
    assert second.started_at - first.started_at >= timedelta(seconds=first.next_retry_seconds)
    detail = api.get(f"/v1/deliveries/{first.delivery_id}").json()
    assert detail["attempt_log"][0]["retry_after_seconds"] == first.retry_after_seconds
    assert detail["attempt_log"][0]["next_retry_seconds"] == first.next_retry_seconds
    assert detail["attempt_log"][1]["next_retry_seconds"] is None  # succeeded: no retry scheduled


@pytest.mark.parametrize(
    ("status", "value", "expected"),
    [
        (429, "120", 120.0),
        (503, " 7 ", 7.0),
        (429, "Wed, 02 Dec 2026 12:01:00 GMT", 60.0),
        (429, "Wed, 02 Dec 2026 11:00:00 GMT", 0.0),  # a date in the past: now
        (429, "soon", None),
        (429, "-5", None),
        (429, "1.5", None),  # RFC 9110: delay-seconds is a whole number
        (500, "120", None),
        (200, "120", None),
    ],
)
def test_retry_after_values(status: int, value: str, expected: float | None) -> None:
    now = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)
    assert policy.retry_after(status_code=status, headers={"retry-after": value}, now=now) == expected
    assert policy.retry_after(status_code=status, headers=None, now=now) is None


def test_the_wait_is_the_schedule_step_lengthened_by_retry_after_up_to_the_longest_step() -> None:
    steps = (60, 300, 1800, 7200, 86400)
    assert policy.delay_with(scheduled=60, asked=None, schedule=steps) == 60
    assert policy.delay_with(scheduled=60, asked=10, schedule=steps) == 60
    assert policy.delay_with(scheduled=60, asked=600, schedule=steps) == 600
    assert policy.delay_with(scheduled=300, asked=10**9, schedule=steps) == 86400


@pytest.mark.slow  # the real CLI as subprocesses
def test_the_rate_limit_from_the_cli(database: Database, database_url: str, receiver: Receiver) -> None:
    from tests.webhooks.test_cli import run

    run(database_url, "init", "--email", "boss@example.com")
    hook = json.loads(run(database_url, "webhooks", "add", receiver.url(), "--rate-limit", "20", "--json").stdout)
    assert hook["rate_limit_per_second"] == 20
    bad = run(database_url, "webhooks", "update", hook["id"], "--rate-limit", "0", check=False)
    assert bad.returncode == 1 and "rate_limit_per_second" in bad.stderr and "Traceback" not in bad.stderr
    bad = run(database_url, "webhooks", "update", hook["id"], "--rate-limit", "lots", check=False)
    assert bad.returncode == 1 and "rate_limit_per_second" in bad.stderr
    kept = json.loads(run(database_url, "webhooks", "update", hook["id"], "--description", "x", "--json").stdout)
    assert kept["rate_limit_per_second"] == 20
    removed = json.loads(run(database_url, "webhooks", "update", hook["id"], "--rate-limit", "none", "--json").stdout)
    assert removed["rate_limit_per_second"] is None
