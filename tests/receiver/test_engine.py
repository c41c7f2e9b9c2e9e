"""Deliveries made by the real delivery engine verify with `gitproductivity.receiver`, rotation included."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest
from fastapi.testclient import TestClient

from gitproductivity import receiver as lib
from tests.receiver.test_verify import run_spec_verify
from tests.webhooks.conftest import Received, Receiver, RunningDispatcher, dispatcher, fast, wait_for

__all__ = ["dispatcher", "fast"]  # fixtures shared with the delivery engine's tests


@pytest.fixture
def endpoint() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.stop()


def legacy(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if not k.lower().startswith("webhook-")}


def test_real_deliveries_verify_with_the_receiver_library(
    api: TestClient, endpoint: Receiver, dispatcher: RunningDispatcher
) -> None:
    hook = api.post("/v1/webhooks", json={"url": endpoint.url("/ok"), "events": ["*"]}).json()
    secret = hook["secret"]
    [test] = endpoint.requests  # the test webhook, sent when the endpoint was saved
    ping = lib.verify(test.body, test.headers, secret)
    assert ping.type == "webhook.test" and ping.is_test
    assert lib.verify(test.body, legacy(test.headers), secret, allow_legacy_signature=True).id == ping.id
    with pytest.raises(lib.WebhookVerificationError) as stripped:  # replay protection is not the sender's to drop
        lib.verify(test.body, legacy(test.headers), secret)
    assert stripped.value.code == "missing_header"

    assert api.post(f"/v1/webhooks/{hook['id']}/test", json={"event": "metrics.updated"}).json()["ok"]
    sample = lib.verify(endpoint.requests[-1].body, endpoint.requests[-1].headers, secret)
    assert sample.type == "metrics.updated" and sample.is_test

    def delivered(name: str) -> Received:
        found: list[Received] = wait_for(
            lambda: [r for r in endpoint.requests if f'"name":"{name}"'.encode() in r.body], what=name
        )
        return found[0]

    dev = api.post("/v1/developers", json={"name": "Zoë Ñúñez", "email": "zoe@example.com"}).json()
    first = delivered("Zoë Ñúñez")
    event = lib.verify(first.body, first.headers, secret)
    assert (event.type, event.data["developer_id"], event.is_test) == ("developer.added", dev["id"], False)
    assert event.id == api.get("/v1/events").json()["data"][0]["id"]
    signature = {k.lower(): v for k, v in first.headers.items()}["x-gitproductivity-signature"]
    assert run_spec_verify([{"payload": first.body.decode(), "signature": signature, "secret": secret}]) == ["true"]
    with pytest.raises(lib.WebhookVerificationError):
        lib.verify(first.body.replace(b"zoe@", b"eve@"), first.headers, secret)

    new = api.post(f"/v1/webhooks/{hook['id']}/rotate-secret").json()["secret"]
    api.post("/v1/developers", json={"name": "Ken", "email": "ken@example.com"})
    during = delivered("Ken")
    for secrets in ([new], [secret], [new, secret]):  # both sign webhook-signature during the overlap
        assert lib.verify(during.body, during.headers, secrets).type == "developer.added"
    assert lib.verify(during.body, legacy(during.headers), new, allow_legacy_signature=True).type == "developer.added"
    with pytest.raises(lib.WebhookVerificationError) as info:  # the body signature switched at once
        lib.verify(during.body, legacy(during.headers), secret, allow_legacy_signature=True)
    assert info.value.code == "invalid_signature"
