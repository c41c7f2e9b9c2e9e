"""The dispatcher end to end: real events, a real receiver on loopback, the compressed retry schedule."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook as StandardWebhook

from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import Database
from gitproductivity.core.settings import Settings
from gitproductivity.events import service as events
from gitproductivity.events.payloads import DeveloperAdded
from gitproductivity.webhooks import deliveries as delivery_log
from gitproductivity.webhooks.models import Delivery, DeliveryAttempt
from tests.conftest import Tenant
from tests.netutil import refusing_port
from tests.webhooks.conftest import Mailbox, Receiver, RunningDispatcher, configure, wait_for


def add_hook(api: TestClient, url: str, events_: list[str] | None = None) -> dict[str, Any]:
    resp = api.post("/v1/webhooks", json={"url": url, "events": events_ or ["*"]})
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def deliveries(api: TestClient, hook_id: str, **params: str) -> list[dict[str, Any]]:
    return list(api.get(f"/v1/webhooks/{hook_id}/deliveries", params=params).json()["data"])


def real(api: TestClient, hook_id: str, **params: str) -> list[dict[str, Any]]:
    return [d for d in deliveries(api, hook_id, **params) if not d["is_test"]]


def test_event_is_delivered_byte_for_byte_and_logged(
    api: TestClient, receiver: Receiver, dispatcher: RunningDispatcher, database: Database
) -> None:
    hook = add_hook(api, receiver.url("/ok"), ["developer.added"])
    dev = api.post("/v1/developers", json={"name": "Jane Doe", "email": "jane@example.com"}).json()
    api.delete(f"/v1/developers/{dev['id']}")  # developer.removed: not subscribed

    got = wait_for(lambda: [r for r in receiver.on("/ok") if r.headers["X-GitProductivity-Event"] != "webhook.test"])
    [event] = api.get("/v1/events", params={"type": "developer.added"}).json()["data"]
    assert got[0].body == json.dumps(event, separators=(",", ":")).encode()
    assert json.loads(got[0].body)["data"] == {
        "developer_id": dev["id"],
        "name": "Jane Doe",
        "email": "jane@example.com",
    }
    h = {k.lower(): v for k, v in got[0].headers.items()}
    expected = "sha256=" + hmac.new(hook["secret"].encode(), got[0].body, hashlib.sha256).hexdigest()
    assert h["x-gitproductivity-signature"] == expected
    assert StandardWebhook(hook["secret"]).verify(got[0].body, h)["id"] == event["id"]
    assert h["webhook-id"] == event["id"]

    [delivery] = wait_for(lambda: real(api, hook["id"], status="succeeded"), what="delivery recorded")
    assert h["x-gitproductivity-delivery"] == delivery["id"]
    detail = api.get(f"/v1/deliveries/{delivery['id']}").json()
    [attempt] = detail["attempt_log"]
    assert attempt["response_status"] == 200 and attempt["error_kind"] is None
    assert attempt["request_body"].encode() == got[0].body
    with database.session() as session:  # served from the event's payload, not copied into the attempt log
        assert session.scalar(select(DeliveryAttempt.request_body).where(DeliveryAttempt.id == attempt["id"])) is None
    assert attempt["request_headers"]["X-GitProductivity-Delivery"] == delivery["id"]
    assert attempt["response_headers"]["X-Receiver"] == "test"
    assert json.loads(attempt["response_body"]) == {"received": True}
    assert len(real(api, hook["id"])) == 1  # nothing for the unsubscribed developer.removed


def test_fan_out_is_part_of_the_events_transaction(
    api: TestClient, tenant: Tenant, database: Database, receiver: Receiver, fast: Settings
) -> None:
    on = add_hook(api, receiver.url("/ok"), ["developer.added"])
    add_hook(api, receiver.url("/ok"), ["repository.connected"])
    off = add_hook(api, receiver.url("/ok"), ["*"])
    api.patch(f"/v1/webhooks/{off['id']}", json={"enabled": False})

    with pytest.raises(RuntimeError), database.session() as session:
        events.emit(session, organization_id=tenant.organization_id, data=DeveloperAdded.example)
        assert session.scalar(select(func.count()).select_from(Delivery).where(Delivery.is_test.is_(False))) == 1
        raise RuntimeError("the change fails after the event was written")
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Delivery).where(Delivery.is_test.is_(False))) == 0

    with database.session() as session:
        event = events.emit(session, organization_id=tenant.organization_id, data=DeveloperAdded.example)
    with database.session() as session:
        rows = session.scalars(select(Delivery).where(Delivery.event_id == event.id)).all()
    assert [r.webhook_id for r in rows] == [on["id"]]


@pytest.mark.parametrize(
    ("path", "kind", "status"),
    [
        ("/fail", "http_status", 500),
        ("/redirect", "redirect", 302),
        ("/slow", "timeout", None),
        ("/drop", "connection_dropped", None),
        (None, "connection_error", None),
    ],
)
def test_failures_are_classified_and_rescheduled(
    api: TestClient,
    receiver: Receiver,
    database: Database,
    database_url: str,
    tmp_path: Path,
    path: str | None,
    kind: str,
    status: int | None,
) -> None:
    timeout = configure(database_url, tmp_path, retry_schedule="600").webhook_timeout
    with refusing_port() as closed:  # held bound, never listening: every connection to it is refused
        url = receiver.url(path) if path else f"http://127.0.0.1:{closed}/refused"
        hook = add_hook(api, url)
        running = RunningDispatcher(database)
        try:
            api.post("/v1/developers", json={"name": "A", "email": "a@example.com"})
            [d] = wait_for(lambda: [d for d in real(api, hook["id"]) if d["attempts"] == 1], what="first attempt")
            seen = utcnow()
        finally:
            running.stop()
    assert d["status"] == "pending" and d["last_status_code"] == status
    next_at = d["next_attempt_at"]
    [attempt] = api.get(f"/v1/deliveries/{d['id']}").json()["attempt_log"]
    # The one delay of the schedule after the attempt: rescheduled between its start and the moment it was seen.
    scheduled = datetime.fromisoformat(next_at) - timedelta(seconds=600)
    assert datetime.fromisoformat(attempt["started_at"]) <= scheduled <= seen
    assert attempt["error_kind"] == kind, attempt
    if path == "/redirect":
        assert receiver.on("/ok") == []  # the redirect was not followed
    if path == "/slow":  # cut at the configured timeout, long before the receiver would have answered
        assert timeout < receiver.slow_seconds
        assert 0.9 * timeout * 1000 <= attempt["duration_ms"] < receiver.slow_seconds * 1000, (attempt, timeout)


def test_retries_run_out_then_failed_with_notice_and_email(
    api: TestClient,
    tenant: Tenant,
    receiver: Receiver,
    database: Database,
    database_url: str,
    tmp_path: Path,
    smtp: tuple[Mailbox, int],
) -> None:
    box, port = smtp
    configure(database_url, tmp_path, smtp_host="127.0.0.1", smtp_port=port, smtp_from="gp@example.com")
    hook = add_hook(api, receiver.url("/fail"), ["developer.added"])
    running = RunningDispatcher(database)
    try:
        api.post("/v1/developers", json={"name": "A", "email": "a@example.com"})
        [d] = wait_for(lambda: real(api, hook["id"], status="failed"), what="delivery failed")
    finally:
        running.stop()
    assert d["attempts"] == 6  # the first try and five retries
    attempts = api.get(f"/v1/deliveries/{d['id']}").json()["attempt_log"]
    assert [a["number"] for a in attempts] == [1, 2, 3, 4, 5, 6]
    gaps = [(attempts[i + 1]["started_at"], attempts[i]["started_at"]) for i in range(5)]
    assert all(later > earlier for later, earlier in gaps)

    notes = api.get("/v1/notifications").json()["data"]
    failed = [n for n in notes if n["kind"] == "delivery.failed"]
    assert len(failed) == 1 and failed[0]["subject_id"] == d["id"]
    assert d["id"] in failed[0]["body"]
    mail = wait_for(lambda: [m for m in box.messages if "will not be retried" in m["data"]], what="e-mail")
    assert mail[0]["to"] == [tenant.email] and mail[0]["from"] == "gp@example.com"
    assert d["id"] in mail[0]["data"] and hook["secret"] not in mail[0]["data"]

    read = api.post(f"/v1/notifications/{failed[0]['id']}/read")
    assert read.status_code == 200 and read.json()["read_at"] is not None
    assert api.get("/v1/notifications", params={"unread": True}).json()["data"] == []


def test_flaky_endpoint_succeeds_on_a_retry(api: TestClient, receiver: Receiver, dispatcher: RunningDispatcher) -> None:
    receiver.flaky_failures = 2
    hook = add_hook(api, receiver.url("/flaky"), ["developer.added"])  # the test webhook is failure 1
    api.post("/v1/developers", json={"name": "A", "email": "a@example.com"})
    [d] = wait_for(lambda: real(api, hook["id"], status="succeeded"), what="success on retry")
    assert d["attempts"] == 2 and d["last_status_code"] == 200
    assert api.get(f"/v1/webhooks/{hook['id']}").json()["failing_since"] is None


def test_redeliver_and_recover(
    api: TestClient, receiver: Receiver, database: Database, dispatcher: RunningDispatcher
) -> None:
    hook = add_hook(api, receiver.url("/fail"), ["developer.added"])
    for n in range(2):
        api.post("/v1/developers", json={"name": f"D{n}", "email": f"d{n}@example.com"})
    failed = wait_for(
        lambda: len(real(api, hook["id"], status="failed")) == 2 and real(api, hook["id"], status="failed")
    )
    api.patch(f"/v1/webhooks/{hook['id']}", json={"url": receiver.url("/ok")})

    again = api.post(f"/v1/deliveries/{failed[0]['id']}/redeliver")
    assert again.status_code == 202 and again.json()["event_id"] == failed[0]["event_id"]
    wait_for(lambda: any(d["id"] == again.json()["id"] for d in real(api, hook["id"], status="succeeded")))

    since = (utcnow() - timedelta(minutes=5)).isoformat()
    recovered = api.post(f"/v1/webhooks/{hook['id']}/recover", json={"since": since})
    # The failed test delivery and the event already redelivered are not sent again.
    assert recovered.status_code == 202 and recovered.json()["redelivered"] == 1
    assert recovered.json()["deliveries"][0]["event_id"] == failed[1]["event_id"]
    wait_for(lambda: len(real(api, hook["id"], status="succeeded")) == 2, what="recovered deliveries")
    ok_ids = {r.headers["webhook-id"] for r in receiver.on("/ok")}
    assert {d["event_id"] for d in failed} <= ok_ids
    assert api.post("/v1/deliveries/dlv_nope/redeliver").status_code == 404


def test_guard_refuses_private_destinations_by_default(
    api: TestClient, receiver: Receiver, database: Database, database_url: str, tmp_path: Path
) -> None:
    from gitproductivity.core import settings

    def allow_private(allowed: bool) -> None:
        settings.configure(
            database_url=database_url,
            data_dir=tmp_path / "data",
            webhook_timeout=1,
            webhook_allow_private_destinations=allowed,
        )

    allow_private(False)
    # `localhost` is refused when saved, with the setting that allows it named.
    refused = api.post("/v1/webhooks", json={"url": receiver.url("/ok", host="localhost"), "events": ["*"]})
    assert refused.status_code == 422
    assert "GITPRODUCTIVITY_WEBHOOK_ALLOW_PRIVATE_DESTINATIONS=true" in refused.json()["error"]["message"]

    # Saved while allowed, then disallowed: the send is refused (the name resolves to 127.0.0.1), in words.
    allow_private(True)
    hook = add_hook(api, receiver.url("/ok", host="localhost"))
    assert hook["test"]["ok"] is True and len(receiver.requests) == 1
    allow_private(False)
    test = api.post(f"/v1/webhooks/{hook['id']}/test").json()
    assert test["ok"] is False
    assert (
        "refused addresses" in test["error"] and "GITPRODUCTIVITY_WEBHOOK_ALLOW_PRIVATE_DESTINATIONS" in test["error"]
    )
    assert "Error" not in test["error"]  # no exception class names
    assert len(receiver.requests) == 1
    [attempt] = api.get(f"/v1/deliveries/{test['delivery_id']}").json()["attempt_log"]
    assert attempt["error_kind"] == "refused_destination"

    allow_private(True)
    assert api.post(f"/v1/webhooks/{hook['id']}/test").json()["ok"] is True
    assert len(receiver.requests) == 2


def test_old_attempts_are_pruned(api: TestClient, receiver: Receiver, database: Database, fast: Settings) -> None:
    add_hook(api, receiver.url("/ok"))
    with database.session() as session:
        assert delivery_log.prune_attempts(session, older_than=utcnow() - timedelta(days=1)) == 0
    with database.session() as session:
        assert delivery_log.prune_attempts(session, older_than=utcnow() + timedelta(seconds=1)) == 1
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(DeliveryAttempt)) == 0
        assert session.scalar(select(func.count()).select_from(Delivery)) == 1


def test_concurrency_caps_and_graceful_stop(
    api: TestClient, tenant: Tenant, receiver: Receiver, database: Database, database_url: str, tmp_path: Path
) -> None:
    """At most `webhook_endpoint_concurrency` POSTs to one endpoint at a time; on stop, the POSTs in flight finish
    and are recorded, and claimed deliveries that had not started are handed back at once."""
    configure(database_url, tmp_path, webhook_endpoint_concurrency=2, webhook_timeout=2, webhook_lease_seconds=60)
    receiver.slow_seconds = 0.4
    hook = add_hook(api, receiver.url("/slow"), ["developer.added"])
    with database.session() as session:
        for _n in range(8):
            events.emit(session, organization_id=tenant.organization_id, data=DeveloperAdded.example)
    running = RunningDispatcher(database)
    try:
        wait_for(lambda: len(receiver.on("/slow")) >= 5, what="some deliveries")  # 1 test + 4 real
    finally:
        running.stop()
    assert receiver.max_in_flight == 2
    sent = len(receiver.on("/slow")) - 1
    done = real(api, hook["id"], status="succeeded")
    assert len(done) == sent  # every POST that started was recorded
    pending = real(api, hook["id"], status="pending")
    assert len(pending) == 8 - sent > 0
    with database.session() as session:
        rows = session.scalars(select(Delivery).where(Delivery.id.in_([d["id"] for d in pending]))).all()
    assert all(r.lease_token is None and r.next_attempt_at is not None and r.next_attempt_at <= utcnow() for r in rows)


@pytest.mark.slow  # waits out a slow receiver's answers (1.5 s each, the test webhook's included)
def test_an_endpoint_at_its_concurrency_holds_no_sender(
    api: TestClient, tenant: Tenant, receiver: Receiver, database: Database, database_url: str, tmp_path: Path
) -> None:
    """Jobs of an endpoint with all its POSTs in flight are set aside, not given a sender to wait in: with two
    senders, a slow endpoint limited to one POST and its deliveries claimed first, the other endpoint's deliveries
    all arrive while the slow one's first POST is still in flight."""
    configure(
        database_url, tmp_path, webhook_concurrency=2, webhook_endpoint_concurrency=1, webhook_timeout=5,
        webhook_lease_seconds=60,
    )  # fmt: skip
    receiver.slow_seconds = 1.5
    slow = add_hook(api, receiver.url("/slow"), ["developer.added"])
    with database.session() as session:
        for _n in range(6):
            events.emit(session, organization_id=tenant.organization_id, data=DeveloperAdded.example)
    fast_hook = add_hook(api, receiver.url("/ok"), ["developer.added"])  # after: its deliveries are claimed last
    with database.session() as session:
        for _n in range(6):
            events.emit(session, organization_id=tenant.organization_id, data=DeveloperAdded.example)
    running = RunningDispatcher(database)
    try:
        wait_for(lambda: len(real(api, fast_hook["id"], status="succeeded")) == 6, what="the fast endpoint's six")
        assert len(receiver.on("/slow")) <= 1 + 1  # its test, then at most its first real POST
        assert receiver.max_in_flight <= 2
    finally:
        running.stop()
    assert len(real(api, slow["id"], status="succeeded")) <= 2


def test_untrusted_certificate_is_a_tls_error(api: TestClient, tls_receiver: Receiver, fast: Settings) -> None:
    hook = add_hook(api, tls_receiver.url("/ok"))
    assert hook["test"]["ok"] is False
    [attempt] = api.get(f"/v1/deliveries/{hook['test']['delivery_id']}").json()["attempt_log"]
    assert attempt["error_kind"] == "tls_error", attempt
    assert "certificate" in attempt["error"].lower()
    assert tls_receiver.requests == []
