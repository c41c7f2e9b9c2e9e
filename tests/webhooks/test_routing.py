"""Routing: endpoint filters applied at fan-out, extra headers and encrypted credentials, with a real receiver
and the real dispatcher on both databases; the filter's 422s with their paths; `test-filter`."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from gitproductivity.core.db import Database
from gitproductivity.core.settings import Settings
from gitproductivity.events import service as events
from gitproductivity.events.payloads import DeveloperAdded, MetricsUpdated
from gitproductivity.webhooks.models import Delivery, Webhook
from tests.conftest import Tenant
from tests.webhooks.conftest import Receiver, RunningDispatcher, configure, wait_for

KEY = "a-credentials-key-for-tests-only-0123456789"


@pytest.fixture
def keyed(database: Database, database_url: str, tmp_path: Path) -> Settings:
    return configure(database_url, tmp_path, webhook_credentials_key=KEY)


@pytest.fixture
def running(keyed: Settings, database: Database) -> Iterator[RunningDispatcher]:
    running = RunningDispatcher(database)
    yield running
    running.stop()


def add_hook(api: TestClient, url: str, **extra: Any) -> dict[str, Any]:
    resp = api.post("/v1/webhooks", json={"url": url, "events": ["*"], **extra})
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def real(receiver: Receiver, path: str) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in receiver.on(path) if r.headers["X-GitProductivity-Event"] != "webhook.test"]


def developer(n: int) -> DeveloperAdded:
    return DeveloperAdded(developer_id=f"dev_{n}", name=f"Dev {n}", email=f"dev{n}@example.com")


def test_filters_decide_which_events_make_deliveries_in_a_batch(
    api: TestClient, tenant: Tenant, database: Database, receiver: Receiver, running: RunningDispatcher
) -> None:
    chosen = add_hook(api, receiver.url("/chosen"), filter={"data": {"developer_id": {"$in": ["dev_3", "dev_7"]}}})
    big = add_hook(
        api,
        receiver.url("/big"),
        filter={"type": "metrics.updated", "data.totals.commits": {"$gte": 100}},
    )
    everything = add_hook(api, receiver.url("/all"))
    assert chosen["filter"] == {"data": {"developer_id": {"$in": ["dev_3", "dev_7"]}}}

    example = MetricsUpdated.example.model_dump()
    small = MetricsUpdated(**{**example, "totals": {**example["totals"], "commits": 99}})
    batch = [developer(n) for n in range(10)] + [MetricsUpdated.example, small]
    with database.session() as session:
        emitted = events.emit_many(session, organization_id=tenant.organization_id, data=batch)

    wait_for(lambda: len(real(receiver, "/all")) == 12, what="every event at the unfiltered endpoint")
    wait_for(lambda: len(real(receiver, "/chosen")) == 2 and len(real(receiver, "/big")) == 1, what="filtered")
    assert sorted(e["data"]["developer_id"] for e in real(receiver, "/chosen")) == ["dev_3", "dev_7"]
    assert real(receiver, "/big")[0]["id"] == emitted[10].id
    with database.session() as session:
        rows = session.execute(select(Delivery.webhook_id, Delivery.event_id).where(Delivery.is_test.is_(False))).all()
    # A non-matching event makes no delivery at all (not a skipped one).
    assert sorted(w for w, _ in rows) == sorted([chosen["id"]] * 2 + [big["id"]] + [everything["id"]] * 12)


def test_a_filter_change_applies_to_the_next_event_and_null_removes_it(
    api: TestClient, tenant: Tenant, database: Database, fast: Settings
) -> None:
    hook = add_hook(api, "http://127.0.0.1:9/x", filter={"data.developer_id": "dev_1"})

    def emit_and_count(n: int) -> int:
        with database.session() as session:
            event = events.emit(session, organization_id=tenant.organization_id, data=developer(n))
            return len(session.scalars(select(Delivery).where(Delivery.event_id == event.id)).all())

    assert (emit_and_count(1), emit_and_count(2)) == (1, 0)
    resp = api.patch(f"/v1/webhooks/{hook['id']}", json={"filter": {"data.developer_id": {"$neq": "dev_1"}}})
    assert resp.status_code == 200 and resp.json()["filter"] == {"data.developer_id": {"$neq": "dev_1"}}
    assert (emit_and_count(1), emit_and_count(2)) == (0, 1)
    assert api.patch(f"/v1/webhooks/{hook['id']}", json={"description": "kept"}).json()["filter"] is not None
    assert api.patch(f"/v1/webhooks/{hook['id']}", json={"filter": None}).json()["filter"] is None
    assert (emit_and_count(1), emit_and_count(2)) == (1, 1)


def test_invalid_filters_are_422_with_every_path(api: TestClient, fast: Settings) -> None:
    bad = {
        "data": {"repository_id": {"$in": "repo_1"}, "totals": {"commits": {"$gt": [1]}}},
        "$or": [{"type": {"$regex": "x"}}],
    }
    resp = api.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/x", "events": ["*"], "filter": bad})
    assert resp.status_code == 422
    body = resp.json()["error"]
    assert body["code"] == "validation_error"
    assert {d["field"] for d in body["details"]} == {
        "filter.data.repository_id.$in",
        "filter.data.totals.commits.$gt",
        "filter.$or[0].type.$regex",
    }
    assert api.get("/v1/webhooks").json()["data"] == []  # nothing saved

    hook = add_hook(api, "http://127.0.0.1:9/x")
    deep: Any = {"a": 1}
    for _ in range(400):
        deep = {"$and": [deep]}
    resp = api.patch(f"/v1/webhooks/{hook['id']}", json={"filter": deep})
    assert resp.status_code == 422 and resp.json()["error"]["details"][0]["field"] == "filter"
    assert "nested deeper" in resp.json()["error"]["message"]


def test_test_filter_answers_whether_and_why(api: TestClient, fast: Settings) -> None:
    hook = add_hook(api, "http://127.0.0.1:9/x", filter={"data": {"repository_id": {"$in": ["repo_1"]}}})
    event: dict[str, Any] = {"id": "evt_1", "type": "analysis.complete", "data": {"repository_id": "repo_2"}}
    resp = api.post(f"/v1/webhooks/{hook['id']}/test-filter", json={"event": event})
    assert resp.status_code == 200
    assert resp.json() == {"matches": False, "failing": ["data.repository_id.$in"], "event_type_subscribed": True}
    event["data"]["repository_id"] = "repo_1"
    assert api.post(f"/v1/webhooks/{hook['id']}/test-filter", json={"event": event}).json()["matches"] is True
    trial = {"event": event, "filter": {"type": "developer.added"}}
    assert api.post(f"/v1/webhooks/{hook['id']}/test-filter", json=trial).json()["failing"] == ["type"]
    resp = api.post(f"/v1/webhooks/{hook['id']}/test-filter", json={"event": event, "filter": {"$nope": 1}})
    assert resp.status_code == 422 and resp.json()["error"]["details"][0]["field"] == "filter.$nope"
    assert api.post("/v1/webhooks/wh_nope/test-filter", json={"event": event}).status_code == 404


def test_headers_and_credentials_arrive_and_are_never_shown(
    api: TestClient,
    database: Database,
    receiver: Receiver,
    running: RunningDispatcher,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    token = "tok_SECRET_bearer_value_123"
    hook = add_hook(
        api,
        receiver.url("/ok"),
        headers={"X-Team": "platform", "X-Route": "a b"},
        auth={"type": "bearer", "token": token},
    )
    test = receiver.on("/ok")[0].headers  # the test webhook sent on save carries them too
    assert test["X-Team"] == "platform" and test["X-Route"] == "a b"
    assert test["Authorization"] == f"Bearer {token}"
    assert hook["auth"] == {"type": "bearer", "configured": True} and hook["headers"]["X-Team"] == "platform"

    api.post("/v1/developers", json={"name": "Jane", "email": "jane@example.com"})
    [got] = wait_for(lambda: [r for r in receiver.on("/ok") if r.headers["X-GitProductivity-Event"] != "webhook.test"])
    assert got.headers["Authorization"] == f"Bearer {token}" and got.headers["X-Team"] == "platform"
    assert "webhook-signature" in {k.lower() for k in got.headers}

    password = "pa55-word:with colon"
    resp = api.patch(
        f"/v1/webhooks/{hook['id']}",
        json={"auth": {"type": "basic", "username": "hooks", "password": password}, "headers": {"X-Team": "data"}},
    )
    assert resp.json()["auth"] == {"type": "basic", "configured": True} and resp.json()["headers"] == {"X-Team": "data"}
    api.post(f"/v1/webhooks/{hook['id']}/test")
    import base64

    last = receiver.on("/ok")[-1].headers
    assert last["Authorization"] == "Basic " + base64.b64encode(f"hooks:{password}".encode()).decode()
    assert last["X-Team"] == "data" and "X-Route" not in last

    # Stored encrypted; never in a response, the attempt log, or a log line.
    with database.session() as session:
        stored = session.get(Webhook, hook["id"])
        assert stored is not None and stored.auth_secret is not None
        assert password not in stored.auth_secret and stored.auth_secret.startswith("fernet:")
    shown = json.dumps([api.get(f"/v1/webhooks/{hook['id']}").json(), api.get("/v1/webhooks").json()])
    attempts = [
        api.get(f"/v1/deliveries/{d['id']}").json()
        for d in api.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["data"]
    ]
    assert all(a["request_headers"]["Authorization"] == "***" for d in attempts for a in d["attempt_log"])
    for secret in (token, password, base64.b64encode(f"hooks:{password}".encode()).decode()):
        assert secret not in shown and secret not in json.dumps(attempts) and secret not in caplog.text

    assert api.patch(f"/v1/webhooks/{hook['id']}", json={"auth": None}).json()["auth"] is None
    api.post(f"/v1/webhooks/{hook['id']}/test")
    assert "Authorization" not in receiver.on("/ok")[-1].headers


@pytest.mark.parametrize(
    ("headers", "field"),
    [
        ({"webhook-signature": "v1,x"}, "headers.webhook-signature"),
        ({"Host": "evil"}, "headers.Host"),
        ({"Authorization": "Bearer x"}, "headers.Authorization"),
        ({"X-GitProductivity-Event": "x"}, "headers.X-GitProductivity-Event"),
        ({"Transfer-Encoding": "chunked"}, "headers.Transfer-Encoding"),
        ({"X-Ok": "line\r\nInjected: 1"}, "headers.X-Ok"),
        ({"Bad Name": "x"}, "headers.Bad Name"),
    ],
)
def test_reserved_or_malformed_headers_are_refused(
    api: TestClient, keyed: Settings, headers: dict[str, str], field: str
) -> None:
    resp = api.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/x", "events": ["*"], "headers": headers})
    assert resp.status_code == 422 and [d["field"] for d in resp.json()["error"]["details"]] == [field]


def test_credentials_need_a_key(api: TestClient, fast: Settings) -> None:
    resp = api.post(
        "/v1/webhooks",
        json={"url": "http://127.0.0.1:9/x", "events": ["*"], "auth": {"type": "bearer", "token": "abc"}},
    )
    assert resp.status_code == 422 and "GITPRODUCTIVITY_WEBHOOK_CREDENTIALS_KEY" in resp.json()["error"]["message"]
    resp = api.post(
        "/v1/webhooks",
        json={"url": "http://127.0.0.1:9/x", "events": ["*"], "auth": {"type": "bearer", "token": "a b"}},
    )
    assert resp.status_code == 422 and resp.json()["error"]["details"][0]["field"] == "auth.token"


def test_a_changed_key_fails_the_attempt_without_sending(
    api: TestClient, database: Database, database_url: str, tmp_path: Path, receiver: Receiver, keyed: Settings
) -> None:
    hook = add_hook(api, receiver.url("/ok"), auth={"type": "bearer", "token": "abc"})
    configure(database_url, tmp_path, webhook_credentials_key="another-key-entirely-0123456789")
    before = len(receiver.on("/ok"))
    result = api.post(f"/v1/webhooks/{hook['id']}/test").json()
    assert result["ok"] is False and "cannot be decrypted" in result["error"]
    assert len(receiver.on("/ok")) == before
