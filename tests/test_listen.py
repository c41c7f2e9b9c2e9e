"""`gitproductivity listen` end to end: a real server (restarted midway), the real CLI, a real aiohttp receiver."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from multidict import CIMultiDict
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from gitproductivity import receiver
from gitproductivity.core.db import Database
from gitproductivity.developers import service
from gitproductivity.events.models import Event
from tests.conftest import Tenant, inherited_env
from tests.netutil import Receiver, Resetter, listening_socket, port_of, serve_command

pytestmark = pytest.mark.slow  # real `gitproductivity serve` and `listen` processes

EXE = str(Path(sys.executable).with_name("gitproductivity"))


def eventually(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Server:
    """`gitproductivity serve` in its own process, on a socket this test holds: restarted at the same address."""

    def __init__(self, database_url: str, data_dir: Path) -> None:
        self.sock = listening_socket()
        self.port = port_of(self.sock)
        self.env = {
            **os.environ,
            "GITPRODUCTIVITY_DATABASE_URL": database_url,
            "GITPRODUCTIVITY_DATA_DIR": str(data_dir),
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.down: Resetter | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        if self.down is not None:
            self.down.stop()
            self.down = None
        argv, keywords = serve_command(self.sock, "--no-workers")
        self.proc = subprocess.Popen(
            argv,
            **keywords,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as response:
                    return bool(response.status == 200)
            except OSError:
                return False

        eventually(healthy, "the server to start", timeout=60)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.down = Resetter(self.sock)  # while down, its address refuses (resets) connections
        self.proc = None


class Listen:
    """The real `gitproductivity listen` command, its output collected line by line."""

    def __init__(self, *args: str, api_key: str) -> None:
        env = {**os.environ, "GITPRODUCTIVITY_API_KEY": api_key, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [EXE, "listen", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            self.output.append(line)
            if text in line:
                return line
        raise AssertionError(f"listen never printed {text!r}; it printed: {self.output}")

    def stop(self, sig: int = signal.SIGINT) -> list[str]:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(10)  # it ends at the end of the output
        while not self.lines.empty():
            self.output.append(self.lines.get())
        return self.output


def received(hook: Receiver) -> list[tuple[CIMultiDict[str], bytes]]:
    return [(r.headers, r.body) for r in hook.requests]


@pytest.fixture
def hook() -> Iterator[Receiver]:
    r = Receiver(fail_bodies_containing=(b"Broken",)).start()
    yield r
    r.stop()


@pytest.fixture
def server(database: Database, database_url: str, tmp_path: Path) -> Iterator[Server]:
    s = Server(database_url, tmp_path / "data")
    s.start()
    yield s
    s.stop()
    if s.down is not None:
        s.down.stop()
    s.sock.close()


def add_via_api(server: Server, tenant: Tenant, name: str) -> None:
    request = urllib.request.Request(
        f"{server.url}/v1/developers",
        data=f'{{"name": "{name}", "email": "{name.lower()}@example.com"}}'.encode(),
        headers={**tenant.headers, "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201


def add_directly(database: Database, tenant: Tenant, name: str) -> None:
    with database.session() as session:
        service.create(session, organization_id=tenant.organization_id, name=name, email=f"{name.lower()}@x.org")


def feed_after(database: Database, event_id: str) -> list[Event]:
    with database.session() as session:
        after = session.scalar(select(Event.seq).where(Event.id == event_id))
        return list(session.scalars(select(Event).where(Event.seq > after).order_by(Event.seq)))


def test_listen_forwards_signed_events_and_resumes_after_a_server_restart(
    server: Server, hook: Receiver, database: Database, tenant: Tenant
) -> None:
    add_directly(database, tenant, "Before")  # happened before listen started: not forwarded
    listen = Listen(
        "--forward-to", f"http://127.0.0.1:{hook.port}/webhooks", "--api-url", server.url,  # default 25 s polls
        api_key=tenant.api_key,
    )  # fmt: skip
    try:
        secret = listen.wait_for("Signing secret:").split(": ", 1)[1]
        first_cursor = listen.wait_for("Following new events").split("after ", 1)[1].rstrip(").")
        for name in ("Ada", "Grace", "Linus"):
            add_via_api(server, tenant, name)
        eventually(lambda: len(hook.requests) == 3, "the first three forwards")

        started = time.monotonic()
        server.stop()  # listen has a 25 s long-poll open: the server must answer it now, not wait it out
        assert time.monotonic() - started < 15
        listen.wait_for("lost")
        add_directly(database, tenant, "Ken")  # committed while the server is down
        add_directly(database, tenant, "Barbara")
        server.start()
        listen.wait_for("Reconnected")
        add_via_api(server, tenant, "Margaret")
        eventually(lambda: len(hook.requests) == 6, "the forwards after the restart")
        # One more event, forwarded after everything before it: a duplicate would have arrived before it.
        add_via_api(server, tenant, "Sentinel")
        eventually(lambda: len(hook.requests) == 7, "the sentinel's forward")
    finally:
        output = listen.stop()

    expected = feed_after(database, first_cursor)
    assert [e.id for e in expected] and [e.type for e in expected] == ["developer.added"] * 7
    assert [receiver.verify(body, headers, secret).id for headers, body in received(hook)] == [e.id for e in expected]
    for (headers, body), event in zip(received(hook), expected, strict=True):
        assert body == event.payload.encode()  # byte for byte what a real delivery would send
        assert Webhook(secret).verify(body, dict(headers))["id"] == event.id
        assert headers["X-GitProductivity-Event"] == "developer.added"
        assert headers["X-GitProductivity-Delivery"].startswith("dlv_")
        assert headers["User-Agent"].startswith("GitProductivity-Webhooks/")
        assert headers["webhook-timestamp"] == headers["X-GitProductivity-Timestamp"]
    forwarded = [line for line in output if "-> 200" in line]
    assert [line.split()[3] for line in forwarded] == [e.id for e in expected]
    assert output[-1] == f"Stopped; resume with --after {expected[-1].id}."
    assert listen.proc.returncode == 0
    assert tenant.api_key not in "\n".join(output)


def test_listen_filters_replays_reports_failures_and_stops_on_fatal_errors(
    server: Server, hook: Receiver, database: Database, tenant: Tenant
) -> None:
    add_directly(database, tenant, "Start")
    with database.session() as session:
        start = session.scalar(select(Event.id).order_by(Event.seq.desc()).limit(1))
    assert start is not None
    add_directly(database, tenant, "Broken")  # the receiver answers 500 for this one
    add_directly(database, tenant, "Fine")
    with database.session() as session:
        dev = service.find_by_email(session, organization_id=tenant.organization_id, email="fine@x.org")
        assert dev is not None
        service.remove(session, organization_id=tenant.organization_id, developer_id=dev.id)
    secret = receiver.generate_secret()
    listen = Listen(
        "--forward-to", f"http://127.0.0.1:{hook.port}/webhooks", "--api-url", server.url, "--wait", "1",
        "--after", start, "--events", "developer.added", "--secret", secret,
        api_key=tenant.api_key,
    )  # fmt: skip
    try:
        assert listen.wait_for("Signing secret:").endswith(secret)
        listen.wait_for("Replaying every event after")
        eventually(lambda: len(hook.requests) == 2, "two replayed forwards")
        add_directly(database, tenant, "Sentinel")  # forwarded after anything else listen would have sent
        eventually(lambda: len(hook.requests) == 3, "the sentinel's forward")
    finally:
        output = listen.stop(signal.SIGTERM)
    assert listen.proc.returncode == 0
    assert output[-1].startswith("Stopped; resume with --after evt_")
    names = [receiver.verify(body, headers, secret).data["name"] for headers, body in received(hook)]
    assert names == ["Broken", "Fine", "Sentinel"]  # the failed forward did not stop the next; removal was filtered out
    lines = [line for line in output if "->" in line]
    assert "!! developer.added" in lines[0] and "-> 500" in lines[0]
    assert "ok developer.added" in lines[1] and "-> 200" in lines[1]

    base = ["--forward-to", "http://127.0.0.1:9/x", "--api-url", server.url, "--wait", "1"]
    refused = run_listen(*base, api_key="gpk_not_a_real_key")
    assert refused.returncode == 1
    assert "error: the server refused the API key" in refused.stderr
    assert "gpk_not_a_real_key" not in refused.stderr + refused.stdout
    unknown = run_listen(*base, "--after", "evt_missing", api_key=tenant.api_key)
    assert unknown.returncode == 1
    assert "cursor event evt_missing not found" in unknown.stderr


def run_listen(*args: str, api_key: str | None = None) -> subprocess.CompletedProcess[str]:
    env = inherited_env()
    if api_key:
        env["GITPRODUCTIVITY_API_KEY"] = api_key
    return subprocess.run([EXE, "listen", *args], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--forward-to", "http://127.0.0.1:9/x"], "missing API key"),
        (["--forward-to", "ftp://example/x"], "--forward-to must be an http(s) URL"),
        (["--forward-to", "http://127.0.0.1:9/x", "--events", "developer.exploded"], "unknown event type"),
        (["--forward-to", "http://127.0.0.1:9/x", "--secret", "hunter2"], "--secret is not a GitProductivity"),
        (["--forward-to", "http://127.0.0.1:9/x", "--api-url", "127.0.0.1:8000"], "--api-url must be an http(s)"),
    ],
)
def test_listen_argument_errors_are_one_line(args: list[str], message: str) -> None:
    result = run_listen(*args, api_key=None if message == "missing API key" else "gpk_whatever")
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "hunter2" not in result.stderr
