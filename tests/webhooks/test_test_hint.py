"""A receiver that verifies parsed JSON instead of the raw body: the test webhook's result says so, in words.

Two real receivers on 127.0.0.1 make that mistake: the published page's Express example, run by node as written
(`spec_express_receiver.mjs`, no npm packages), and a Python one that verifies `json.dumps(json.loads(body))`.
The hint shows in the API (saving an endpoint, `POST /v1/webhooks/{id}/test`) and in the CLI's output.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gitproductivity.core.db import Database
from tests.webhooks.conftest import Receiver, configure
from tests.webhooks.test_cli import run

NODE = shutil.which("node")
SCRIPT = Path(__file__).with_name("spec_express_receiver.mjs")
HINT = "verifying the signature over parsed JSON"


class NodeReceiver:
    def __init__(self, tmp_path: Path) -> None:
        assert NODE is not None
        self.secret_file = tmp_path / "secret"
        self.secret_file.write_text("whsec_not_saved_yet")
        self.proc = subprocess.Popen(
            [NODE, str(SCRIPT), str(self.secret_file)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # printed once it listens; empty if node stopped
        assert line.strip().isdigit(), (
            f"node receiver did not start: {line!r} {self.proc.stderr.read() if self.proc.stderr else ''}"
        )
        self.port = int(line)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[NodeReceiver]:
    if NODE is None:
        pytest.fail("node is needed by this test (README: test requirements)")
    receiver = NodeReceiver(tmp_path)
    yield receiver
    receiver.stop()


class ParsedJsonHandler(BaseHTTPRequestHandler):
    """Verifies X-GitProductivity-Signature over the JSON it parsed and serialised again (the mistake)."""

    secret = b""

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        again = json.dumps(json.loads(raw)).encode()  # `json.dumps` puts spaces after , and : — other bytes
        expected = "sha256=" + hmac.new(self.secret, again, hashlib.sha256).hexdigest()
        ok = hmac.compare_digest(self.headers.get("X-GitProductivity-Signature", ""), expected)
        self.send_response(200 if ok else 401)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def parsed_json_receiver() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), ParsedJsonHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(10)


@pytest.fixture
def settings(database: Database, database_url: str, tmp_path: Path) -> None:
    configure(database_url, tmp_path, webhook_timeout=10, webhook_lease_seconds=30)


def add_hook(api: TestClient, url: str) -> dict[str, Any]:
    resp = api.post("/v1/webhooks", json={"url": url, "events": ["developer.added"]})
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def test_the_spec_pages_express_example_gets_the_hint(
    api: TestClient, database_url: str, node: NodeReceiver, settings: None
) -> None:
    # Saved: the test webhook goes out at once. The page's handler hands the parsed object to HMAC: 500.
    hook = add_hook(api, node.url("/as-written"))
    assert hook["test"]["ok"] is False and hook["test"]["status_code"] == 500
    assert HINT in hook["test"]["hint"] and "raw body" in hook["test"]["hint"]
    assert api.get(f"/v1/webhooks/{hook['id']}").json()["last_test"]["hint"] == hook["test"]["hint"]

    node.secret_file.write_text(hook["secret"])
    again = api.post(f"/v1/webhooks/{hook['id']}/test").json()
    assert again["status_code"] == 500 and HINT in again["hint"]

    # The docs' fixed version (HMAC over the raw bytes) passes, and there is nothing to hint at.
    api.patch(f"/v1/webhooks/{hook['id']}", json={"url": node.url("/raw")})
    fixed = api.post(f"/v1/webhooks/{hook['id']}/test").json()
    assert fixed["ok"] is True and fixed["hint"] is None

    # JSON.stringify of the parsed object gives back our compact bytes for the test envelope: it passes the
    # test (and fails later on a body that does not survive the round trip; docs/webhooks.md says so).
    api.patch(f"/v1/webhooks/{hook['id']}", json={"url": node.url("/stringify")})
    assert api.post(f"/v1/webhooks/{hook['id']}/test").json()["status_code"] == 200

    # The CLI prints the hint under the failure.
    api.patch(f"/v1/webhooks/{hook['id']}", json={"url": node.url("/as-written")})
    proc = run(database_url, "webhooks", "test", hook["id"], check=False)
    assert proc.returncode == 1 and "FAILED" in proc.stdout
    assert "hint:" in proc.stdout and HINT in " ".join(proc.stdout.split())


def test_a_python_receiver_verifying_parsed_json_gets_the_hint(
    api: TestClient, parsed_json_receiver: ThreadingHTTPServer, receiver: Receiver, settings: None
) -> None:
    port = parsed_json_receiver.server_address[1]
    hook = add_hook(api, receiver.url("/ok"))  # saved first: the receiver needs the secret
    assert hook["test"]["ok"] is True and hook["test"]["hint"] is None
    ParsedJsonHandler.secret = hook["secret"].encode()
    api.patch(f"/v1/webhooks/{hook['id']}", json={"url": f"http://127.0.0.1:{port}/webhooks"})
    result = api.post(f"/v1/webhooks/{hook['id']}/test").json()
    assert result["ok"] is False and result["status_code"] == 401
    assert HINT in result["hint"]

    # Other failures are not about signatures: no hint.
    api.patch(f"/v1/webhooks/{hook['id']}", json={"url": receiver.url("/flaky")})  # 503 "not yet"
    receiver.flaky_failures = 10
    other = api.post(f"/v1/webhooks/{hook['id']}/test").json()
    assert other["status_code"] == 503 and other["hint"] is None
