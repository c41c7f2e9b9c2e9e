"""Secret rotation: the old secret signs `webhook-signature` (after the new) until the overlap ends, and not a
second longer; the overlap is 24 hours unless asked otherwise (docs/delivery.md, "Secrets and rotation").

Signatures are read from the headers a real receiver got. Time is `tests.clock.Clock`, patched over the `utcnow`
of the modules that rotate (`endpoints`), build test deliveries (`testing`) and pick the signing secrets
(`queue`): it stands still between moves, so the end of the overlap is known to the second.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from standardwebhooks.webhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError

from gitproductivity.core.db import Database
from gitproductivity.core.settings import Settings
from tests.clock import Clock, moved_clock
from tests.webhooks.conftest import Receiver, configure

DAY = 86400.0


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    yield moved_clock(monkeypatch)


def signed_by(api: TestClient, receiver: Receiver, hook_id: str) -> tuple[bytes, dict[str, str]]:
    """Send a test webhook; the body and headers the receiver got."""
    before = len(receiver.on("/ok"))
    assert api.post(f"/v1/webhooks/{hook_id}/test").json()["ok"] is True
    got = receiver.on("/ok")
    assert len(got) == before + 1
    return got[-1].body, {k.lower(): v for k, v in got[-1].headers.items()}


def verifies(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    try:
        StandardWebhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


def test_the_default_overlap_is_24_hours() -> None:
    assert Settings().webhook_secret_overlap == DAY


def test_old_secret_signs_until_the_overlap_ends_then_stops(
    api: TestClient, receiver: Receiver, fast: Settings, clock: Clock
) -> None:
    hook = api.post("/v1/webhooks", json={"url": receiver.url("/ok"), "events": ["*"]}).json()
    old = hook["secret"]
    rotated = api.post(f"/v1/webhooks/{hook['id']}/rotate-secret").json()  # no overlap asked for: the default
    new = rotated["secret"]
    ends = datetime.fromisoformat(rotated["secret_rotation_ends_at"].replace("Z", "+00:00"))
    assert ends == clock.now + timedelta(days=1)

    clock.advance(DAY - 1)  # the last second of the overlap: both sign, the new one first
    body, headers = signed_by(api, receiver, hook["id"])
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert verifies(new, body, headers) and verifies(old, body, headers)
    assert verifies(new, body, {**headers, "webhook-signature": headers["webhook-signature"].split(" ")[0]})

    clock.advance(1)  # the overlap is over: the old secret no longer signs
    body, headers = signed_by(api, receiver, hook["id"])
    assert len(headers["webhook-signature"].split(" ")) == 1
    assert verifies(new, body, headers) and not verifies(old, body, headers)


def test_the_overlap_setting_and_the_request_choose_its_length(
    api: TestClient, receiver: Receiver, database: Database, database_url: str, tmp_path: Path, clock: Clock
) -> None:
    configure(database_url, tmp_path, webhook_secret_overlap=600)
    hook = api.post("/v1/webhooks", json={"url": receiver.url("/ok"), "events": ["*"]}).json()
    rotated = api.post(f"/v1/webhooks/{hook['id']}/rotate-secret").json()
    ends = datetime.fromisoformat(rotated["secret_rotation_ends_at"].replace("Z", "+00:00"))
    assert ends == clock.now + timedelta(seconds=600)
    asked = api.post(f"/v1/webhooks/{hook['id']}/rotate-secret", json={"overlap_seconds": 90}).json()
    ends = datetime.fromisoformat(asked["secret_rotation_ends_at"].replace("Z", "+00:00"))
    assert ends == clock.now + timedelta(seconds=90)
    clock.advance(89)
    assert verifies(rotated["secret"], *signed_by(api, receiver, hook["id"]))  # the secret before the last rotation
    clock.advance(1)
    assert not verifies(rotated["secret"], *signed_by(api, receiver, hook["id"]))
