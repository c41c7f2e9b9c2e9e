"""The FastAPI, Flask and Django helpers in their real frameworks, and the runnable examples as real servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from django.urls import path
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from gitproductivity.receiver import Event, django_webhook, fastapi_webhook, flask_webhook, generate_secret
from tests.netutil import listening_port
from tests.receiver.test_verify import EVENT_ID, OTHER, SECRET, contract_headers, legacy_only

ROOT = Path(__file__).parents[2]
# Signed as sent, pretty-printed: a helper that parsed and re-serialised the JSON would fail to verify it.
PRETTY = json.dumps(
    {
        "id": EVENT_ID,
        "type": "developer.added",
        "created_at": "2026-03-19T10:30:00Z",
        "data": {"developer_id": "dev_456", "name": "Jane Doe", "email": "jane@example.com"},
    },
    indent=2,
).encode()


def cases() -> list[tuple[bytes, dict[str, str], int]]:
    """(body, headers, expected status) for a good delivery, tampered, wrong secret, stale, unsigned, and a
    delivery whose `webhook-*` headers were stripped (the body-only signature is refused unless opted in)."""
    good = contract_headers(PRETTY, [SECRET])
    return [
        (PRETTY, good, 200),
        (PRETTY.replace(b"Jane", b"John"), good, 401),
        (PRETTY, contract_headers(PRETTY, [generate_secret()]), 401),
        (PRETTY, contract_headers(PRETTY, [SECRET], ts=int(time.time()) - 3600), 401),
        (PRETTY, {"Content-Type": "application/json"}, 401),
        (PRETTY, legacy_only(good), 401),
    ]


def test_fastapi_dependency() -> None:
    app = FastAPI()
    received: list[Event] = []

    @app.post("/webhooks")
    async def hook(event: Annotated[Event, Depends(fastapi_webhook(lambda: [OTHER, SECRET]))]) -> dict[str, str]:
        received.append(event)
        return {"id": event.id}

    with TestClient(app) as client:
        for body, headers, status in cases():
            response = client.post("/webhooks", content=body, headers=headers)
            assert response.status_code == status, response.text
            if status == 401:
                assert "signature" in response.json()["detail"] or "timestamp" in response.json()["detail"]
    assert [e.raw for e in received] == [PRETTY]
    assert received[0].data["name"] == "Jane Doe"


def test_flask_decorator() -> None:
    from flask import Flask

    app = Flask(__name__)
    received: list[tuple[Event, str]] = []

    @app.post("/webhooks/<source>")
    @flask_webhook(SECRET)
    def hook(event: Event, source: str) -> dict[str, str]:
        received.append((event, source))
        return {"id": event.id}

    client = app.test_client()
    for body, headers, status in cases():
        response = client.post("/webhooks/prod", data=body, headers=headers)
        assert response.status_code == status, response.get_data(as_text=True)
        if status == 401:
            assert response.get_json()["error"]["code"] in ("invalid_signature", "stale_timestamp", "missing_header")
    assert [(e.raw, s) for e, s in received] == [(PRETTY, "prod")]


def test_the_helpers_accept_the_body_only_signature_when_opted_in() -> None:
    from flask import Flask

    stripped = legacy_only(contract_headers(PRETTY, [SECRET]))
    api = FastAPI()

    @api.post("/webhooks")
    async def hook(event: Annotated[Event, Depends(fastapi_webhook(SECRET, allow_legacy_signature=True))]) -> str:
        return event.id

    with TestClient(api) as client:
        assert client.post("/webhooks", content=PRETTY, headers=stripped).json() == EVENT_ID
    flask = Flask(__name__)
    flask.add_url_rule(
        "/webhooks", view_func=flask_webhook(SECRET, allow_legacy_signature=True)(lambda e: e.id), methods=["POST"]
    )
    assert flask.test_client().post("/webhooks", data=PRETTY, headers=stripped).get_data(as_text=True) == EVENT_ID


@django_webhook(SECRET)
def django_hook(request: Any, event: Event) -> Any:
    from django.http import JsonResponse

    DJANGO_RECEIVED.append(event)
    return JsonResponse({"id": event.id})


DJANGO_RECEIVED: list[Event] = []
urlpatterns = [path("webhooks", django_hook)]  # this module is the test project's ROOT_URLCONF


def test_django_decorator_with_csrf_enforced() -> None:
    import django
    from django.conf import settings
    from django.test import Client

    if not settings.configured:
        settings.configure(
            SECRET_KEY="tests-only",
            ALLOWED_HOSTS=["testserver"],
            ROOT_URLCONF=__name__,
            MIDDLEWARE=["django.middleware.csrf.CsrfViewMiddleware"],
        )
        django.setup()
    client = Client(enforce_csrf_checks=True)
    DJANGO_RECEIVED.clear()
    for body, headers, status in cases():
        response = client.post("/webhooks", data=body, content_type="application/json", headers=headers)
        assert response.status_code == status, response.content
    assert client.get("/webhooks").status_code == 405
    assert [e.raw for e in DJANGO_RECEIVED] == [PRETTY]


# --- the examples, run as their own servers ---------------------------------------------------------------


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@pytest.fixture(params=["fastapi_receiver", "flask_receiver", "django_receiver"])
def example(request: pytest.FixtureRequest) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    # PORT=0: the example binds a port the kernel picks; the test reads which from the kernel's socket table.
    env = {**os.environ, "WEBHOOK_SECRET": f"{SECRET},{OTHER}", "PORT": "0", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "examples" / f"{request.param}.py")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        port = listening_port(proc, describe=lambda: f"{request.param} did not start")
        yield f"http://127.0.0.1:{port}/webhooks", proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.slow  # each example runs as its own server process
def test_examples_receive_verify_and_dedupe(example: tuple[str, subprocess.Popen[str]]) -> None:
    url, proc = example
    for body, headers, status in cases():
        assert post(url, body, headers) == status
    assert post(url, PRETTY, contract_headers(PRETTY, [OTHER])) == 200  # the old secret, during a rotation
    proc.terminate()
    output = proc.communicate(timeout=10)[0]
    lines = [line for line in output.splitlines() if line.startswith(("handled", "duplicate"))]
    assert lines == [f"handled developer.added {EVENT_ID}: Jane Doe <jane@example.com>", f"duplicate {EVENT_ID}"]
