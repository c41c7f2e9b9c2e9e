"""The delivery log's search (status, HTTP status, event type, time range; keyset paging kept) and recovery over a
time range, on both databases."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import insert

from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import Database
from gitproductivity.core.ids import id_floor
from gitproductivity.core.settings import Settings
from gitproductivity.webhooks.models import Delivery
from tests.conftest import Tenant

T0 = utcnow().replace(microsecond=0) - timedelta(days=10)


def seed(database: Database, tenant: Tenant, hook_id: str) -> list[dict[str, Any]]:
    """40 deliveries, one an hour from T0: types, statuses and status codes in a pattern; ids minted at their time."""
    kinds = [
        ("developer.added", "succeeded", 200),
        ("metrics.updated", "failed", 503),
        ("metrics.updated", "failed", 500),
        ("developer.added", "pending", None),
        ("analysis.complete", "failed", 404),
    ]
    rows = []
    for n in range(40):
        at = T0 + timedelta(hours=n)
        event_type, status, code = kinds[n % len(kinds)]
        rows.append(
            {
                "id": id_floor("dlv", at)[:-4] + f"{n:04d}",
                "organization_id": tenant.organization_id,
                "webhook_id": hook_id,
                "event_id": f"evt_{n:04d}",
                "event_type": event_type,
                "payload": "{}",
                "is_test": False,
                "status": status,
                "attempts": 1,
                "next_attempt_at": at,
                "created_at": at,
                "last_status_code": code,
            }
        )
    with database.session() as session:
        session.execute(insert(Delivery), rows)
    return rows


def listed(api: TestClient, hook_id: str, **params: Any) -> list[str]:
    """Every page, following the cursor, 3 at a time."""
    ids: list[str] = []
    after = None
    while True:
        query = {**params, "limit": 3, **({"after": after} if after else {})}
        resp = api.get(f"/v1/webhooks/{hook_id}/deliveries", params=query)
        assert resp.status_code == 200, resp.text
        page = resp.json()
        ids += [d["id"] for d in page["data"]]
        if not page["has_more"]:
            return ids
        after = page["data"][-1]["id"]


def at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


def test_search_by_each_filter_and_together(
    api: TestClient, tenant: Tenant, database: Database, fast: Settings
) -> None:
    hook = api.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/x", "events": ["*"]}).json()
    rows = seed(database, tenant, hook["id"])
    newest_first = sorted(rows, key=lambda r: r["id"], reverse=True)

    def expect(keep: Any) -> list[str]:
        return [r["id"] for r in newest_first if keep(r)]

    assert listed(api, hook["id"], status_code="503") == expect(lambda r: r["last_status_code"] == 503)
    assert listed(api, hook["id"], status_code="5xx") == expect(lambda r: (r["last_status_code"] or 0) // 100 == 5)
    assert listed(api, hook["id"], event_type="analysis.complete") == expect(
        lambda r: r["event_type"] == "analysis.complete"
    )
    assert listed(api, hook["id"], since=at(10), until=at(20)) == expect(
        lambda r: T0 + timedelta(hours=10) <= r["created_at"] < T0 + timedelta(hours=20)
    )
    both = listed(api, hook["id"], status="failed", event_type="metrics.updated", status_code="500", since=at(3))
    assert both == expect(
        lambda r: (
            r["status"] == "failed"
            and r["event_type"] == "metrics.updated"
            and r["last_status_code"] == 500
            and r["created_at"] >= T0 + timedelta(hours=3)
        )
    )
    assert len(both) == 7
    bad = api.get(f"/v1/webhooks/{hook['id']}/deliveries", params={"status_code": "5x"})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "status_code"
    bad = api.get(f"/v1/webhooks/{hook['id']}/deliveries", params={"since": "yesterday"})
    assert bad.status_code == 422


def test_recover_takes_since_and_until(api: TestClient, tenant: Tenant, database: Database, fast: Settings) -> None:
    hook = api.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/x", "events": ["*"]}).json()
    rows = seed(database, tenant, hook["id"])
    window = [r for r in rows if r["status"] == "failed" and at(5) <= r["created_at"].isoformat() < at(15)]
    resp = api.post(f"/v1/webhooks/{hook['id']}/recover", json={"since": at(5), "until": at(15)})
    assert resp.status_code == 202
    assert sorted(d["event_id"] for d in resp.json()["deliveries"]) == sorted(r["event_id"] for r in window)
    assert len(window) == 6
    again = api.post(f"/v1/webhooks/{hook['id']}/recover", json={"since": at(0)})  # until: now
    failed = [r for r in rows if r["status"] == "failed"]
    assert again.json()["redelivered"] == len(failed) - len(window)  # those already re-sent are left alone
    resp = api.post(f"/v1/webhooks/{hook['id']}/recover", json={"since": at(5), "until": at(5)})
    assert resp.status_code == 422 and resp.json()["error"]["details"][0]["field"] == "until"


def test_id_floor_orders_with_minted_ids() -> None:
    from gitproductivity.core.ids import new_id

    before = id_floor("dlv", utcnow() - timedelta(seconds=1))
    minted = new_id("dlv")
    after = id_floor("dlv", utcnow() + timedelta(seconds=1))
    assert before < minted < after
    assert id_floor("dlv", datetime(1, 1, 2).astimezone()) < before
