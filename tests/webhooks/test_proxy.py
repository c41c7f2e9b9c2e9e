"""Deliveries through a real egress proxy (tests/webhooks/proxy_server.py, its own process on loopback):
http forwarded, https tunnelled with CONNECT (TLS to a receiver with a test CA), signatures intact; a proxy
that is down fails the attempts with a clear error, and they are retried; the proxy's credentials never show."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from standardwebhooks.webhooks import Webhook as StandardWebhook

from gitproductivity.core.db import Database
from gitproductivity.core.proxyurl import parse_proxy
from gitproductivity.core.settings import Settings
from gitproductivity.webhooks import client as http_client
from gitproductivity.webhooks.guard import DestinationRefused, Guard
from gitproductivity.webhooks.proxy import ProxiedClient
from tests.conftest import run_async
from tests.netutil import refusing_port
from tests.webhooks.conftest import Receiver, RunningDispatcher, configure, wait_for

pytestmark = pytest.mark.slow  # starts a proxy process

PROXY_SCRIPT = Path(__file__).with_name("proxy_server.py")
PASSWORD = "s3cr3t-proxy-pw"


class ProxyProcess:
    def __init__(self, log: Path, port: int = 0, credentials: str | None = f"relay:{PASSWORD}") -> None:
        self.log = log
        args = [sys.executable, str(PROXY_SCRIPT), str(log), str(port)] + ([credentials] if credentials else [])
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.startswith("port "), line
        self.port = int(line.split()[1])

    def url(self, credentials: str = f"relay:{PASSWORD}") -> str:
        return f"http://{credentials}@127.0.0.1:{self.port}"

    def entries(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[ProxyProcess]:
    p = ProxyProcess(tmp_path / "proxy.log")
    yield p
    p.stop()


def _deliver_one(api: TestClient, url: str) -> dict[str, Any]:
    resp = api.post("/v1/webhooks", json={"url": url, "events": ["developer.added"]})
    assert resp.status_code == 201, resp.text
    hook = dict(resp.json())
    api.post("/v1/developers", json={"name": "Jane Doe", "email": "jane@example.com"})
    return hook


def _assert_signed(hook: dict[str, Any], body: bytes, headers: dict[str, str]) -> None:
    h = {k.lower(): v for k, v in headers.items()}
    expected = "sha256=" + hmac.new(hook["secret"].encode(), body, hashlib.sha256).hexdigest()
    assert h["x-gitproductivity-signature"] == expected
    assert StandardWebhook(hook["secret"]).verify(body, h)["type"] == "developer.added"


def _events(receiver: Receiver) -> list[Any]:
    return [r for r in receiver.on("/ok") if r.headers["X-GitProductivity-Event"] == "developer.added"]


def test_http_deliveries_are_forwarded_by_the_proxy_signed_and_intact(
    api: TestClient, database: Database, database_url: str, tmp_path: Path, receiver: Receiver, proxy: ProxyProcess
) -> None:
    configure(database_url, tmp_path, webhook_proxy=proxy.url())
    running = RunningDispatcher(database)
    try:
        hook = _deliver_one(api, receiver.url("/ok"))
        [got] = wait_for(lambda: _events(receiver), what="the delivery through the proxy")
    finally:
        running.stop()
    _assert_signed(hook, got.body, got.headers)
    forwarded = [e for e in proxy.entries() if e["method"] == "POST"]
    assert forwarded and forwarded[0]["target"] == receiver.url("/ok")  # absolute form: the proxy forwarded it
    assert all(e["authorised"] for e in proxy.entries())  # the URL's credentials reached the proxy
    assert "proxy-authorization" not in {k.lower() for k in got.headers}  # and went no further


def _test_ca(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "ca.pem", tmp_path / "ca-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_https_deliveries_are_tunnelled_with_connect_and_tls_checked_end_to_end(
    api: TestClient,
    database: Database,
    database_url: str,
    tmp_path: Path,
    proxy: ProxyProcess,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cert, key = _test_ca(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    tls = Receiver(ssl_context=server_context)
    tls.start()
    # The operator's way to trust a private CA: SSL_CERT_FILE, read when the client's TLS context is made.
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    http_client._default_ssl_context.cache_clear()
    configure(database_url, tmp_path, webhook_proxy=proxy.url())
    running = RunningDispatcher(database)
    try:
        hook = _deliver_one(api, tls.url("/ok", host="localhost"))
        [got] = wait_for(lambda: _events(tls), what="the delivery through the tunnel")
    finally:
        running.stop()
        tls.stop()
        http_client._default_ssl_context.cache_clear()
    _assert_signed(hook, got.body, got.headers)
    # The test webhook sent on saving and the event's delivery: each through a tunnel to the receiver's name.
    assert {e["target"] for e in proxy.entries() if e["method"] == "CONNECT"} == {f"localhost:{tls.port}"}
    assert not [e for e in proxy.entries() if e["method"] != "CONNECT"]  # the proxy saw no plaintext request


def test_a_proxy_that_is_down_fails_attempts_clearly_they_are_retried_and_credentials_never_show(
    api: TestClient,
    database: Database,
    database_url: str,
    tmp_path: Path,
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    refused = refusing_port()  # held while the proxy is down: every connection to it is refused
    port = refused.__enter__()
    configure(
        database_url,
        tmp_path,
        webhook_proxy=f"http://relay:{PASSWORD}@127.0.0.1:{port}",
        retry_schedule="0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2",
    )
    caplog.set_level(logging.DEBUG)
    running = RunningDispatcher(database)
    started: ProxyProcess | None = None
    try:
        hook = _deliver_one(api, receiver.url("/ok"))

        def attempts() -> list[dict[str, Any]]:
            [delivery] = [
                d for d in api.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["data"] if not d["is_test"]
            ]
            return list(api.get(f"/v1/deliveries/{delivery['id']}").json()["attempt_log"])

        failed = wait_for(lambda: len(attempts()) >= 2 and attempts(), what="two failed attempts")
        for attempt in failed[:2]:
            assert attempt["error_kind"] == "proxy_error"
            words = f"could not connect to the webhook proxy 127.0.0.1:{port}: "
            assert attempt["error"] == words + "it refused the connection (nothing listening)"
        # The proxy comes up on that address: the next retry goes through it.
        refused.__exit__(None, None, None)
        started = ProxyProcess(tmp_path / "proxy.log", port=port)
        wait_for(lambda: _events(receiver), what="the retried delivery")
        wait_for(lambda: attempts()[-1]["response_status"] == 200, what="the success recorded")
    finally:
        running.stop()
        if started is not None:
            started.stop()
    everything = json.dumps(attempts()) + caplog.text
    assert PASSWORD not in everything
    assert base64.b64encode(f"relay:{PASSWORD}".encode()).decode() not in everything  # nor the header made of it


def test_the_guard_still_judges_destinations_before_anything_reaches_the_proxy() -> None:
    """A name that resolves only to refused addresses, and a refused IP literal, never reach the proxy: the
    proxy's port has nothing listening, so a request that got that far would fail with proxy_error instead."""

    async def zone(host: str, port: int) -> list[tuple[socket.AddressFamily, str]]:
        return [(socket.AF_INET, "127.0.0.1")] if host == "internal.example" else [(socket.AF_INET, "93.184.215.14")]

    async def main() -> None:
        client = ProxiedClient(proxy=parse_proxy(f"http://127.0.0.1:{closed}"), guard=Guard(), timeout=5, lookup=zone)
        for url in ("http://internal.example/hook", "https://internal.example/hook", "http://127.0.0.1:9/hook"):
            with pytest.raises(DestinationRefused):
                await client.post(url, b"{}", {})
        with pytest.raises(ConnectionError, match="could not connect to the webhook proxy"):
            await client.post("http://public.example/hook", b"{}", {})  # allowed: on to the (absent) proxy
        await client.close()

    with refusing_port() as closed:
        run_async(main)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        (f"https://relay:{PASSWORD}@proxy.internal:4750", "must be an http:// URL"),
        (f"http://relay:{PASSWORD}@proxy.internal:4750/path", "must be only http://"),
        (f"http://relay:{PASSWORD}@:4750", "has no host"),
        (f"http://relay:{PASSWORD}@proxy.internal:99999", "must be a URL like"),
    ],
)
def test_a_bad_proxy_setting_stops_start_up_in_words_without_its_credentials(url: str, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(webhook_proxy=url)
    message = caught.value.errors()[0]["msg"]  # what `gitproductivity serve` / `worker` print (cli._common.run)
    assert words in message and PASSWORD not in message
