"""`/metrics` after real deliveries: a receiver that answers 200 and one that answers 500, counted attempt by
attempt against the delivery log; the queue's gauges read from the database at scrape time."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import Database
from gitproductivity.core.settings import Settings
from gitproductivity.webhooks.models import Delivery
from tests.webhooks.conftest import Receiver, RunningDispatcher, wait_for

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: TestClient) -> Samples:
    resp = client.get("/metrics")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(resp.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def attempt_log(api: TestClient, hook_id: str) -> list[dict[str, Any]]:
    out = []
    for d in api.get(f"/v1/webhooks/{hook_id}/deliveries").json()["data"]:
        out += [{**a, "is_test": d["is_test"]} for a in api.get(f"/v1/deliveries/{d['id']}").json()["attempt_log"]]
    return out


def test_delivery_metrics_change_by_exactly_the_attempts_made(
    api: TestClient, receiver: Receiver, dispatcher: RunningDispatcher
) -> None:
    before = scrape(api)
    ok = api.post("/v1/webhooks", json={"url": receiver.url("/ok"), "events": ["developer.added"]}).json()
    bad = api.post("/v1/webhooks", json={"url": receiver.url("/fail"), "events": ["developer.added"]}).json()
    api.post("/v1/developers", json={"name": "Jane Doe", "email": "jane@example.com"})

    def finished() -> bool:
        statuses = [
            d["status"] for h in (ok, bad) for d in api.get(f"/v1/webhooks/{h['id']}/deliveries").json()["data"]
        ]
        return len(statuses) == 4 and "pending" not in statuses

    wait_for(finished, what="both deliveries finished (the failing one after every retry)")
    after = scrape(api)
    log = attempt_log(api, ok["id"]) + attempt_log(api, bad["id"])
    # What happened, from the delivery log: the /ok test and event (2xx), the /fail test and six tries (5xx).
    expected = Counter(
        (a["error_kind"] or "succeeded", f"{a['response_status'] // 100}xx" if a["response_status"] else "none")
        for a in log
    )
    assert expected == {("succeeded", "2xx"): 2, ("http_status", "5xx"): 7}
    for (outcome, status_class), n in expected.items():
        labels = {"outcome": outcome, "status_class": status_class}
        assert (
            value(after, "gitproductivity_webhook_attempts_total", **labels)
            - value(before, "gitproductivity_webhook_attempts_total", **labels)
            == n
        ), (outcome, status_class)
    duration = "gitproductivity_webhook_attempt_duration_seconds"
    assert value(after, f"{duration}_count") - value(before, f"{duration}_count") == len(log)
    assert value(after, f"{duration}_sum") - value(before, f"{duration}_sum") > 0
    # Commit-to-receipt: only the event's 2xx (the test deliveries are not events).
    latency = "gitproductivity_webhook_commit_to_receipt_seconds"
    assert value(after, f"{latency}_count") - value(before, f"{latency}_count") == 1
    # The API requests above, by route template and status.
    route = {"method": "GET", "route": "/v1/webhooks/{webhook_id}/deliveries", "status": "200"}
    assert value(after, "gitproductivity_http_requests_total", **route) > value(
        before, "gitproductivity_http_requests_total", **route
    )
    assert not [k for k in after if k[0] == "gitproductivity_http_requests_total" and ok["id"] in str(k[1])]


def test_queue_gauges_are_read_from_the_database_at_scrape_time(
    api: TestClient, receiver: Receiver, database: Database, fast: Settings
) -> None:
    gauges = (
        "gitproductivity_webhook_deliveries_due",
        "gitproductivity_webhook_deliveries_pending",
        "gitproductivity_webhook_oldest_due_age_seconds",
        "gitproductivity_webhook_endpoints_disabled",
    )
    assert [value(scrape(api), g) for g in gauges] == [0, 0, 0, 0]
    hook = api.post("/v1/webhooks", json={"url": receiver.url("/ok"), "events": ["developer.added"]}).json()
    off = api.post("/v1/webhooks", json={"url": receiver.url("/ok"), "events": ["developer.added"]}).json()
    for n in range(3):  # no dispatcher runs: the deliveries wait
        api.post("/v1/developers", json={"name": f"Dev {n}", "email": f"dev{n}@example.com"})
    assert api.patch(f"/v1/webhooks/{off['id']}", json={"enabled": False}).status_code == 200
    with database.session() as session:  # one delivery waits for a retry an hour away, one is 120 s overdue
        ids = [d["id"] for d in api.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["data"] if not d["is_test"]]
        session.execute(
            update(Delivery).where(Delivery.id == ids[0]).values(next_attempt_at=utcnow() + timedelta(hours=1))
        )
        session.execute(
            update(Delivery).where(Delivery.id == ids[1]).values(next_attempt_at=utcnow() - timedelta(seconds=120))
        )
    now = scrape(api)
    assert (
        value(now, "gitproductivity_webhook_deliveries_pending") == 3
    )  # the disabled endpoint's are held, not counted
    assert value(now, "gitproductivity_webhook_deliveries_due") == 2
    assert 120 <= value(now, "gitproductivity_webhook_oldest_due_age_seconds") < 180
    assert value(now, "gitproductivity_webhook_endpoints_disabled") == 1
