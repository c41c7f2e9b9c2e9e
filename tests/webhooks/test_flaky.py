"""Flaky receivers: 30 % answer 500, 10 % answer after the timeout, 5 % drop the connection, the rest 200.

What each try gets is decided by a hash of (delivery id, attempt number), so the outcome of every delivery is
known in advance: with the compressed schedule, every delivery must end `succeeded` or `failed` exactly as
the schedule says, with one logged attempt per try (numbered 1..n, each with the error kind its answer
deserves), one POST per try, and one failure notice entry, in the app and by e-mail, per failed delivery.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import re
from collections import Counter
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import select

from gitproductivity.core.db import Database
from gitproductivity.events import service as events
from gitproductivity.events.payloads import MetricsUpdated
from gitproductivity.notifications.models import Notification
from gitproductivity.webhooks import endpoints
from gitproductivity.webhooks.models import Delivery, DeliveryAttempt
from tests.conftest import Tenant
from tests.webhooks.conftest import Mailbox, Receiver, RunningDispatcher, configure, wait_for

pytestmark = pytest.mark.slow  # the real retry schedule, compressed: several seconds

TIMEOUT = 2.0  # compressed WEBHOOK_TIMEOUT; the slow answers take SLOW seconds
SLOW = 3.0
SCHEDULE = "0.05,0.05"  # three tries in all
TRIES = 3
ENDPOINTS = 2
EVENTS = 150  # x 2 endpoints = 300 deliveries
KIND = {"500": "http_status", "slow": "timeout", "drop": "connection_dropped", "200": None}


def behaviour(delivery_id: str, attempt: int) -> str:
    """What the receiver does for this try: 30 % "500", 10 % "slow", 5 % "drop", 55 % "200"."""
    roll = int.from_bytes(hashlib.sha256(f"{delivery_id}:{attempt}".encode()).digest()[:4], "big") % 100
    if roll < 30:
        return "500"
    if roll < 40:
        return "slow"
    if roll < 45:
        return "drop"
    return "200"


def expected(delivery_id: str) -> tuple[str, list[str]]:
    """(final status, what each try got) under the schedule: stop at the first 200 or after the last try."""
    tries = []
    for n in range(1, TRIES + 1):
        tries.append(behaviour(delivery_id, n))
        if tries[-1] == "200":
            return "succeeded", tries
    return "failed", tries


class FlakyReceiver(Receiver):
    async def answer(self, request: web.Request, body: bytes) -> web.StreamResponse:
        delivery = request.headers["X-GitProductivity-Delivery"]
        attempt = sum(1 for r in self.requests if r.headers.get("X-GitProductivity-Delivery") == delivery)
        what = behaviour(delivery, attempt)
        if what == "500":
            return web.Response(status=500, text="flaky")
        if what == "slow":
            await asyncio.sleep(SLOW)
        if what == "drop":
            assert request.transport is not None
            request.transport.close()
            await asyncio.sleep(1)
        return web.json_response({"ok": True})


def _text(raw: str) -> str:
    message = email.message_from_string(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return str(message.get_content())


def ids_in(text: str) -> list[str]:
    return re.findall(r"^- (dlv_[0-9a-z]+) ", text, flags=re.MULTILINE)


def test_flaky_receivers_end_exactly_as_the_schedule_says(
    database: Database,
    database_url: str,
    tenant: Tenant,
    tmp_path: Path,
    smtp: tuple[Mailbox, int],
) -> None:
    box, port = smtp
    configure(
        database_url,
        tmp_path,
        webhook_timeout=TIMEOUT,
        webhook_lease_seconds=3 * TIMEOUT + 2,
        retry_schedule=SCHEDULE,
        smtp_host="127.0.0.1",
        smtp_port=port,
    )
    receiver = FlakyReceiver()
    receiver.start()
    try:
        with database.session() as session:
            hooks = [
                endpoints.create(
                    session, organization_id=tenant.organization_id, url=receiver.url(f"/flaky/{i}"), events=["*"]
                ).id
                for i in range(ENDPOINTS)
            ]
        for start in range(0, EVENTS, 50):
            with database.session() as session:
                for _n in range(start, start + 50):
                    events.emit(session, organization_id=tenant.organization_id, data=MetricsUpdated.example)
        running = RunningDispatcher(database)
        try:

            def settled() -> list[Delivery] | None:
                with database.session() as session:
                    rows = list(session.scalars(select(Delivery).where(Delivery.webhook_id.in_(hooks))))
                return rows if rows and all(d.status != "pending" for d in rows) else None

            deliveries = wait_for(settled, timeout=90, what="every delivery to succeed or fail")
        finally:
            running.stop()
    finally:
        receiver.stop()

    assert len(deliveries) == ENDPOINTS * EVENTS
    with database.session() as session:
        attempts = list(session.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.number)))
        notices = list(session.scalars(select(Notification).where(Notification.kind == "delivery.failed")))
    log: dict[str, list[DeliveryAttempt]] = {}
    for a in attempts:
        log.setdefault(a.delivery_id, []).append(a)
    posts = Counter(r.headers["X-GitProductivity-Delivery"] for r in receiver.requests)

    failed = set()
    for d in deliveries:
        status, tries = expected(d.id)
        assert (d.status, d.attempts) == (status, len(tries)), (d.id, tries)
        rows = log[d.id]
        assert [a.number for a in rows] == list(range(1, len(tries) + 1))
        assert [a.error_kind for a in rows] == [KIND[t] for t in tries], (d.id, tries)
        assert [a.response_status for a in rows] == [
            {"500": 500, "200": 200}.get(t) for t in tries
        ]  # no status for timeouts and dropped connections
        assert posts[d.id] == len(tries)  # one POST per try, never a second one
        if status == "failed":
            failed.add(d.id)
    outcomes = Counter(expected(d.id)[0] for d in deliveries)
    assert outcomes["failed"] >= 5 and outcomes["succeeded"] >= 200  # the mix the hash gives (a sanity check)
    kinds = Counter(a.error_kind for a in attempts)
    assert kinds["timeout"] and kinds["connection_dropped"] and kinds["http_status"]

    # Failure notices: batched per endpoint, but every failed delivery is in exactly one, and only those.
    listed = Counter(i for n in notices for i in ids_in(n.body))
    assert set(listed) == failed and set(listed.values()) == {1}
    assert all(n.subject_id in failed | set(hooks) for n in notices)
    mails = wait_for(
        lambda: (
            [m for m in box.messages if "will not be retried" in m["data"]] if len(box.messages) >= len(notices) else []
        ),
        timeout=20,
        what="one e-mail per notice",
    )
    assert len(mails) == len(notices)
    mailed = Counter(i for m in mails for i in ids_in(_text(m["data"])))
    assert mailed == listed
    assert {t for m in mails for t in m["to"]} == {tenant.email}
