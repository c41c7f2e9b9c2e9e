"""From finding 13 of issue 12: credentials in a webhook's URL (`http://user:pass@host/…`) are write-only.

They are used for every delivery (HTTP Basic), and shown nowhere: API responses, the list and detail pages,
notifications and log lines all show `http://***@host/…`, through the one masking function repositories use
(`core.redaction.redact_url`). A client that sends the masked URL back leaves the credentials as they were.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Mapping
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from gitproductivity.core import settings
from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import Database
from gitproductivity.core.redaction import redact_url
from gitproductivity.repositories.urls import redact
from gitproductivity.webhooks import health
from gitproductivity.webhooks.endpoints import display_url
from tests.conftest import Tenant
from tests.netutil import refusing_port
from tests.webhooks.conftest import Receiver


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:pa55@127.0.0.1:8080/hooks", "http://***@127.0.0.1:8080/hooks"),
        ("HTTPS://ghp_token@github.com/acme/app.git", "HTTPS://***@github.com/acme/app.git"),
        ("https://u:p@ss@host.example/x?q=1#f", "https://***@host.example/x?q=1#f"),
        ("http://u:p@host.example:99999999/bad-port", "http://***@host.example:99999999/bad-port"),
        ("http://u:p@[::1/bad-bracket", "http://***@[::1/bad-bracket"),
        ("ssh://git:secret@host/x.git", "ssh://***@host/x.git"),
        ("ssh://git@host/x.git", "ssh://git@host/x.git"),  # a user name alone is not a secret for ssh
        ("https://host.example/path@not-credentials", "https://host.example/path@not-credentials"),
        ("git@github.com:acme/app.git", "git@github.com:acme/app.git"),
        ("/srv/git/app", "/srv/git/app"),
    ],
)
def test_one_masking_function_for_every_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert redact(url) == shown and display_url(url) == shown  # repositories and webhooks use the same one


def _basic(headers: Mapping[str, str]) -> str:
    auth = headers.get("Authorization", "")
    assert auth.startswith("Basic "), headers
    return base64.b64decode(auth.removeprefix("Basic ")).decode()


def test_credentials_are_used_for_deliveries_and_shown_nowhere(
    client: TestClient, tenant: Tenant, receiver: Receiver, fast: object, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = receiver.url("/ok").replace("http://", "http://hookuser:s3cr3t-pa55@")
    masked = receiver.url("/ok").replace("http://", "http://***@")
    created = client.post("/v1/webhooks", json={"url": url, "events": ["*"]}, headers=tenant.headers)
    assert created.status_code == 201, created.text
    hook = created.json()
    assert hook["url"] == masked and hook["test"]["ok"] is True
    assert _basic(receiver.on("/ok")[0].headers) == "hookuser:s3cr3t-pa55"

    reads = [
        client.get("/v1/webhooks", headers=tenant.headers),
        client.get(f"/v1/webhooks/{hook['id']}", headers=tenant.headers),
        client.post(f"/v1/webhooks/{hook['id']}/rotate-secret", json={}, headers=tenant.headers),
        client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=tenant.headers),
    ]
    for resp in reads:
        assert resp.status_code == 200, resp.text
        assert "s3cr3t-pa55" not in resp.text and "hookuser" not in resp.text
    assert masked in reads[0].text and masked in reads[1].text

    # Sending the masked URL back (a client that PATCHes what it read) keeps the credentials.
    patched = client.patch(
        f"/v1/webhooks/{hook['id']}", json={"url": masked, "description": "x"}, headers=tenant.headers
    )
    assert patched.status_code == 200 and patched.json()["url"] == masked
    assert client.post(f"/v1/webhooks/{hook['id']}/test", headers=tenant.headers).json()["ok"] is True
    assert _basic(receiver.on("/ok")[-1].headers) == "hookuser:s3cr3t-pa55"

    # The pages: the list, the detail page and a delivery's page.
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    form = {"email": tenant.email, "password": tenant.password, "csrf_token": token.group(1)}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
    delivery = reads[3].json()["data"][0]["id"]
    for page in ("/settings/webhooks", f"/settings/webhooks/{hook['id']}", f"/settings/deliveries/{delivery}"):
        html = client.get(page)
        assert html.status_code == 200, page
        assert "s3cr3t-pa55" not in html.text and "hookuser" not in html.text, page
        assert masked in html.text.replace("<wbr>", ""), page  # long URLs carry soft wrap points

    # A receiver that cannot be reached: the recorded error and the log name no credentials either.
    with refusing_port() as closed:
        dead = f"http://hookuser:s3cr3t-pa55@127.0.0.1:{closed}/gone"
        failing = client.post("/v1/webhooks", json={"url": dead, "events": ["*"]}, headers=tenant.headers)
    assert failing.status_code == 201 and failing.json()["test"]["ok"] is False
    assert "s3cr3t-pa55" not in failing.text
    listed = client.get(f"/v1/webhooks/{failing.json()['id']}/deliveries", headers=tenant.headers)
    assert listed.json()["data"] and "s3cr3t-pa55" not in listed.text
    assert "s3cr3t-pa55" not in caplog.text and "hookuser" not in caplog.text


def test_notifications_and_the_delete_message_show_the_masked_url(
    client: TestClient, database: Database, tenant: Tenant, receiver: Receiver, fast: object
) -> None:
    """The owners' notifications (auto-disabled, deliveries that ran out of retries) and the page's message
    after deleting the webhook name it by its masked URL."""
    url = receiver.url("/ok").replace("http://", "http://hookuser:s3cr3t-pa55@")
    masked = receiver.url("/ok").replace("http://", "http://***@")
    hook = client.post("/v1/webhooks", json={"url": url, "events": ["*"]}, headers=tenant.headers).json()
    window = settings.get_settings().webhook_auto_disable_after
    start = utcnow()
    with database.session() as session:
        for day in range(6):  # a failure a day: failing for the whole window, then disabled
            when = start + timedelta(seconds=min(day * 86400, window))
            health.update(session, outcomes=[(hook["id"], False)], now=when)
        failure = health.Failure(
            tenant.organization_id, hook["id"], url, "dlv_x", "evt_x", "developer.added", 3, "HTTP 500"
        )
        health.notify_failed(session, exhausted=[failure])
    notes = client.get("/v1/notifications", headers=tenant.headers).json()["data"]
    assert sorted(n["kind"] for n in notes) == ["delivery.failed", "webhook.disabled"]
    for note in notes:
        assert masked in note["subject"] and masked in note["body"], note
        assert "s3cr3t-pa55" not in str(note) and "hookuser" not in str(note)

    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    form = {"email": tenant.email, "password": tenant.password, "csrf_token": token.group(1)}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
    page = client.get(f"/settings/webhooks/{hook['id']}").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    deleted = client.post(f"/settings/webhooks/{hook['id']}/delete", data={"csrf_token": token.group(1)})
    assert deleted.status_code == 200
    assert f"Deleted the webhook to {masked}." in deleted.text
    assert "s3cr3t-pa55" not in deleted.text
