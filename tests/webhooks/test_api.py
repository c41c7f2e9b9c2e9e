"""Endpoints over the API: create (with the test webhook sent at once), list, update, delete, rotate, test."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient
from standardwebhooks.webhooks import Webhook as StandardWebhook

from gitproductivity.core.settings import Settings
from tests.conftest import Tenant
from tests.webhooks.conftest import Receiver


def verify_spec_signature(body: bytes, header: str, secret: str) -> bool:
    """The spec page's verifyWebhook, in Python: HMAC-SHA256 keyed with the secret string, hex, `sha256=` prefix."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header, expected)


def test_create_sends_a_signed_test_webhook_at_once(api: TestClient, receiver: Receiver, fast: Settings) -> None:
    resp = api.post("/v1/webhooks", json={"url": receiver.url("/ok"), "events": ["developer.added"]})
    assert resp.status_code == 201, resp.text
    hook = resp.json()
    assert hook["id"].startswith("wh_") and hook["secret"].startswith("whsec_")
    assert hook["status"] == "enabled" and hook["events"] == ["developer.added"]
    assert hook["test"]["ok"] is True and hook["test"]["status_code"] == 200
    assert hook["test"]["latency_ms"] > 0 and hook["test"]["error"] is None

    [got] = receiver.on("/ok")
    envelope = json.loads(got.body)
    assert envelope["type"] == "webhook.test" and envelope["data"]["test"] is True
    assert envelope["data"]["webhook_id"] == hook["id"]
    h = got.headers
    assert h["Content-Type"] == "application/json"
    assert h["User-Agent"].startswith("GitProductivity-Webhooks/")
    assert h["X-GitProductivity-Event"] == "webhook.test"
    assert h["X-GitProductivity-Delivery"] == hook["test"]["delivery_id"]
    assert h["webhook-id"] == envelope["id"] and h["webhook-timestamp"] == h["X-GitProductivity-Timestamp"]
    assert verify_spec_signature(got.body, h["X-GitProductivity-Signature"], hook["secret"])
    assert not verify_spec_signature(got.body + b" ", h["X-GitProductivity-Signature"], hook["secret"])
    verified = StandardWebhook(hook["secret"]).verify(got.body, {k.lower(): v for k, v in h.items()})
    assert verified["id"] == envelope["id"]

    # The outcome is kept on the endpoint, the delivery is in its log, and the test is not in the event feed.
    shown = api.get(f"/v1/webhooks/{hook['id']}").json()
    assert shown["last_test"]["delivery_id"] == hook["test"]["delivery_id"] and shown["last_test"]["ok"] is True
    deliveries = api.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["data"]
    assert [(d["is_test"], d["status"], d["attempts"]) for d in deliveries] == [(True, "succeeded", 1)]
    assert api.get("/v1/events").json()["data"] == []


def test_failed_test_webhook_is_reported_and_kept(api: TestClient, receiver: Receiver, fast: Settings) -> None:
    hook = api.post("/v1/webhooks", json={"url": receiver.url("/fail"), "events": ["*"]}).json()
    assert hook["test"]["ok"] is False and hook["test"]["status_code"] == 500
    assert hook["test"]["error"] == "HTTP 500"
    assert api.get(f"/v1/webhooks/{hook['id']}").json()["last_test"]["status_code"] == 500
    # A failed test is not retried (the person who saved the endpoint sees the result now).
    [delivery] = api.get(f"/v1/webhooks/{hook['id']}/deliveries", params={"status": "failed"}).json()["data"]
    detail = api.get(f"/v1/deliveries/{delivery['id']}").json()
    assert [a["response_status"] for a in detail["attempt_log"]] == [500]
    assert detail["attempt_log"][0]["response_body"] == "internal trouble"


def test_test_endpoint_sends_a_sample_of_any_event_type(api: TestClient, receiver: Receiver, fast: Settings) -> None:
    hook = api.post("/v1/webhooks", json={"url": receiver.url("/ok"), "events": ["*"]}).json()
    result = api.post(f"/v1/webhooks/{hook['id']}/test", json={"event": "developer.added"})
    assert result.status_code == 200, result.text
    assert result.json()["ok"] is True
    got = receiver.on("/ok")[-1]
    envelope = json.loads(got.body)
    assert envelope["type"] == "developer.added" and envelope["data"]["test"] is True
    assert {"developer_id", "name", "email"} <= set(envelope["data"])
    assert got.headers["X-GitProductivity-Event"] == "developer.added"
    assert api.get("/v1/events").json()["data"] == []  # never a fake developer.added in the feed
    bad = api.post(f"/v1/webhooks/{hook['id']}/test", json={"event": "nope.nope"})
    assert bad.status_code == 422 and "unknown event type" in bad.json()["error"]["message"]


def test_samples_of_every_type_have_its_real_shape_plus_test_true(
    api: TestClient, receiver: Receiver, fast: Settings
) -> None:
    from gitproductivity.events.payloads import EVENT_PAYLOADS, envelope_model

    hook = api.post("/v1/webhooks", json={"url": receiver.url("/ok"), "events": ["*"]}).json()
    for event_type, model in EVENT_PAYLOADS.items():
        assert api.post(f"/v1/webhooks/{hook['id']}/test", json={"event": event_type}).json()["ok"] is True
        envelope = json.loads(receiver.on("/ok")[-1].body)
        assert envelope["type"] == event_type and envelope["data"]["test"] is True
        if event_type == "webhook.test":  # the one type whose model has `test`: it is only ever a test
            assert cast(Any, envelope_model(event_type).model_validate(envelope)).data.webhook_id == hook["id"]
        else:  # the model's example, which is what the docs show
            del envelope["data"]["test"]
            assert cast(Any, envelope_model(event_type).model_validate(envelope)).data == model.example


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"url": "https://example.com/h", "events": ["developer.added", "bogus.event"]}, "unknown event type"),
        ({"url": "https://example.com/h", "events": ["webhook.test"]}, "unknown event type"),
        ({"url": "https://example.com/h", "events": []}, "events"),
        ({"url": "ftp://example.com/h", "events": ["*"]}, "only http and https"),
        ({"url": "http://10.0.0.8/h", "events": ["*"]}, "private or reserved"),
        ({"url": "http://169.254.169.254/latest", "events": ["*"]}, "private or reserved"),
        ({"url": "http://[::1]:9/h", "events": ["*"]}, "private or reserved"),
        ({"url": "not a url", "events": ["*"]}, "only http and https"),
    ],
)
def test_bad_endpoints_are_rejected(api: TestClient, fast: Settings, body: dict[str, Any], message: str) -> None:
    resp = api.post("/v1/webhooks", json=body)
    assert resp.status_code == 422, resp.text
    assert message in resp.json()["error"]["message"]
    assert api.get("/v1/webhooks").json()["data"] == []


def test_list_update_delete_and_tenancy(
    api: TestClient, client: TestClient, other_tenant: Tenant, receiver: Receiver, fast: Settings
) -> None:
    hook = api.post(
        "/v1/webhooks", json={"url": receiver.url("/ok"), "events": ["developer.added", "*"], "description": " CI "}
    ).json()
    assert hook["events"] == ["*"] and hook["description"] == "CI"
    listed = api.get("/v1/webhooks").json()
    assert [h["id"] for h in listed["data"]] == [hook["id"]] and "secret" not in listed["data"][0]

    changed = api.patch(f"/v1/webhooks/{hook['id']}", json={"events": ["metrics.updated"], "enabled": False})
    assert changed.status_code == 200, changed.text
    assert changed.json()["status"] == "disabled" and changed.json()["events"] == ["metrics.updated"]
    assert api.patch(f"/v1/webhooks/{hook['id']}", json={"events": ["x.y"]}).status_code == 422

    other = {"Authorization": f"Bearer {other_tenant.api_key}"}
    for method, path in [
        ("GET", f"/v1/webhooks/{hook['id']}"),
        ("PATCH", f"/v1/webhooks/{hook['id']}"),
        ("DELETE", f"/v1/webhooks/{hook['id']}"),
        ("POST", f"/v1/webhooks/{hook['id']}/test"),
        ("POST", f"/v1/webhooks/{hook['id']}/rotate-secret"),
        ("GET", f"/v1/webhooks/{hook['id']}/deliveries"),
        ("GET", f"/v1/deliveries/{hook['test']['delivery_id']}"),
        ("POST", f"/v1/deliveries/{hook['test']['delivery_id']}/redeliver"),
    ]:
        kwargs: dict[str, Any] = {"json": {}} if method in ("PATCH",) else {}
        resp = client.request(method, path, headers=other, **kwargs)
        assert resp.status_code == 404, (method, path, resp.text)

    assert api.delete(f"/v1/webhooks/{hook['id']}").status_code == 200
    assert api.get(f"/v1/webhooks/{hook['id']}").status_code == 404
    assert api.get(f"/v1/deliveries/{hook['test']['delivery_id']}").status_code == 404


def test_rotation_signs_with_old_and_new_during_the_overlap(
    api: TestClient, receiver: Receiver, fast: Settings
) -> None:
    hook = api.post("/v1/webhooks", json={"url": receiver.url("/ok"), "events": ["*"]}).json()
    old = hook["secret"]
    rotated = api.post(f"/v1/webhooks/{hook['id']}/rotate-secret").json()
    new = rotated["secret"]
    assert new != old and new.startswith("whsec_") and rotated["secret_rotation_ends_at"] is not None

    assert api.post(f"/v1/webhooks/{hook['id']}/test").json()["ok"] is True
    got = receiver.on("/ok")[-1]
    headers = {k.lower(): v for k, v in got.headers.items()}
    assert len(headers["webhook-signature"].split(" ")) == 2
    StandardWebhook(new).verify(got.body, headers)
    StandardWebhook(old).verify(got.body, headers)  # receivers still on the old secret keep working
    assert verify_spec_signature(got.body, headers["x-gitproductivity-signature"], new)

    # No overlap: the old secret stops at once.
    api.post(f"/v1/webhooks/{hook['id']}/rotate-secret", json={"overlap_seconds": 0})
    api.post(f"/v1/webhooks/{hook['id']}/test")
    last = {k.lower(): v for k, v in receiver.on("/ok")[-1].headers.items()}
    assert len(last["webhook-signature"].split(" ")) == 1
    with pytest.raises(Exception, match="No matching signature"):
        StandardWebhook(new).verify(receiver.on("/ok")[-1].body, last)


def test_nul_bytes_and_control_characters_are_clear_errors_not_database_errors(api: TestClient, fast: Settings) -> None:
    for method, path in [
        ("GET", "/v1/webhooks?after=%00"),
        ("GET", "/v1/webhooks/wh_x/deliveries?after=a%00b"),
        ("GET", "/v1/notifications?after=%00"),
    ]:
        resp = api.request(method, path)
        assert resp.status_code == 422, (path, resp.text)
        assert resp.json()["error"]["code"] == "validation_error"
    for method, path in [  # an id in the path that cannot exist is not found, like any unknown id
        ("GET", "/v1/webhooks/wh_%00"),
        ("POST", "/v1/deliveries/dlv_%00/redeliver"),
        ("POST", "/v1/notifications/ntf_%00/read"),
    ]:
        resp = api.request(method, path)
        assert resp.status_code == 404, (path, resp.text)
        assert resp.json()["error"]["code"] == "not_found"
    for body in (
        {"url": "https://example.com/a\x00b", "events": ["*"]},
        {"url": "https://example.com/a", "events": ["*"], "description": "x\x00y"},
    ):
        resp = api.post("/v1/webhooks", json=body)
        assert resp.status_code == 422 and "control characters" in resp.json()["error"]["message"], resp.text
    assert api.get("/v1/webhooks").json()["data"] == []
