"""Real HTTP receivers (aiohttp on 127.0.0.1), a real SMTP server (aiosmtpd), and a dispatcher in a thread."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller

from gitproductivity.core import settings
from gitproductivity.core.db import Database
from gitproductivity.webhooks.dispatcher import Dispatcher

FAST = {
    "webhook_allowed_networks": "127.0.0.0/8",
    "webhook_timeout": 0.5,
    "webhook_lease_seconds": 3.0,
    "retry_schedule": "0.05,0.05,0.05,0.05,0.05",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], Any], *, timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """An aiohttp server in its own thread. Paths: /ok, /fail (500), /redirect (302 to /ok), /redirect-metadata
    (302 to the cloud metadata address), /slow (sleeps
    `slow_seconds`), /drop (closes the connection without answering), /flaky (500 `flaky_failures` times, then
    200), /hang-once (the first request sleeps `hang_seconds`, then 200s)."""

    port: int = 0
    requests: list[Received] = field(default_factory=list)
    slow_seconds: float = 2.0
    flaky_failures: int = 2
    hang_seconds: float = 0.0
    in_flight: int = 0
    max_in_flight: int = 0
    ssl_context: Any = None
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _runner: web.AppRunner | None = None

    def url(self, path: str = "/ok", host: str = "127.0.0.1") -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    def on(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(Received(request.path, dict(request.headers), body, time.time()))
        path = request.path
        if path == "/fail":
            return web.Response(status=500, text="internal trouble")
        if path == "/redirect":
            raise web.HTTPFound(self.url("/ok"))
        if path == "/redirect-metadata":
            raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")
        if path == "/slow":
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                await asyncio.sleep(self.slow_seconds)
            finally:
                self.in_flight -= 1
        if path == "/drop":
            assert request.transport is not None
            request.transport.close()
            await asyncio.sleep(1)
        if path == "/flaky" and len(self.on("/flaky")) <= self.flaky_failures:
            return web.Response(status=503, text="not yet")
        if path == "/hang-once" and len(self.on("/hang-once")) == 1:
            await asyncio.sleep(self.hang_seconds)
        return web.json_response({"received": True}, headers={"X-Receiver": "test"})

    def start(self) -> None:
        ready = threading.Event()

        async def main() -> None:
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app, handle_signals=False)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.ssl_context)
            await site.start()
            server = site._server
            assert isinstance(server, asyncio.Server)
            self.port = server.sockets[0].getsockname()[1]
            ready.set()

        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(main(), self._loop)
        assert ready.wait(10)

    def stop(self) -> None:
        assert self._loop is not None and self._thread is not None and self._runner is not None
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.stop()


@pytest.fixture
def tls_receiver(tmp_path: Path) -> Iterator[Receiver]:
    """An HTTPS receiver with a self-signed certificate (made by the openssl binary), which clients must refuse."""
    import ssl
    import subprocess

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    r = Receiver(ssl_context=context)
    r.start()
    yield r
    r.stop()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            {"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "data": envelope.content.decode("utf-8")}
        )
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def configure(database_url: str, tmp_path: Path, **extra: Any) -> settings.Settings:
    return settings.configure(database_url=database_url, data_dir=tmp_path / "data", **{**FAST, **extra})


@pytest.fixture
def fast(database: Database, database_url: str, tmp_path: Path) -> settings.Settings:
    """Settings for delivery tests: loopback allowed, 0.5 s timeout, five 50 ms retries."""
    return configure(database_url, tmp_path)


class RunningDispatcher:
    def __init__(self, database: Database) -> None:
        self.loop = asyncio.new_event_loop()
        self.stop_event = asyncio.Event()
        self.error: BaseException | None = None
        self.dispatcher = Dispatcher(database=database)

        def main() -> None:
            asyncio.set_event_loop(self.loop)
            try:
                self.loop.run_until_complete(self.dispatcher.run(self.stop_event))
            except BaseException as exc:
                self.error = exc

        self.thread = threading.Thread(target=main, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(20)
        assert not self.thread.is_alive(), "dispatcher did not stop"
        self.loop.close()
        if self.error is not None:
            raise self.error


@pytest.fixture
def dispatcher(fast: settings.Settings, database: Database) -> Iterator[RunningDispatcher]:
    running = RunningDispatcher(database)
    yield running
    running.stop()
