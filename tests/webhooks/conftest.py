"""Real HTTP receivers (aiohttp on 127.0.0.1), a real SMTP server (aiosmtpd), and a dispatcher in a thread."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gitproductivity.core import settings
from gitproductivity.core.db import Database
from gitproductivity.webhooks.dispatcher import Dispatcher
from tests.conftest import require_program
from tests.netutil import Mailbox, Received, Receiver, SmtpServer

__all__ = ["Mailbox", "Received", "Receiver", "SmtpServer", "configure", "wait_for"]

FAST = {
    "webhook_allowed_networks": "127.0.0.0/8",
    "webhook_timeout": 0.5,
    "webhook_lease_seconds": 3.0,
    "retry_schedule": "0.05,0.05,0.05,0.05,0.05",
}


def wait_for(check: Callable[[], Any], *, timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
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
            require_program("openssl", "openssl"),
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
    r = Receiver(ssl_context=context).start()
    yield r
    r.stop()


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    server = SmtpServer(box)
    server.start()
    yield box, server.port
    server.stop()


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
