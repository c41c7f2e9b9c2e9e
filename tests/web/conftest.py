"""End-to-end UI tests: a real `gitproductivity serve` on 127.0.0.1 and Debian's Chromium driven by Playwright.

Locally, a machine without Chromium (or without the playwright package) skips these tests with the reason;
in CI (`CI=true`) that is a failure instead: `.ci/run` installs Chromium.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Tenant, _in_ci, wait_until_serving

CHROMIUM = os.environ.get("GP_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EXE = str(Path(sys.executable).with_name("gitproductivity"))
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _unavailable(reason: str) -> None:
    if _in_ci():
        pytest.fail(reason + " (CI never skips the UI tests: .ci/run installs chromium)")
    pytest.skip(reason)


# Package scope: Playwright's sync API keeps an event loop running in the main thread while it is started;
# it stops when the UI tests are done instead of living on under the rest of the suite.
@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    finally:
        pw.stop()


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[str]
    log: Path


@pytest.fixture
def server(database: Any, database_url: str, tmp_path: Path) -> Iterator[Server]:
    """`gitproductivity serve` (API, UI and workers) on a free port, on this test's database."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITPRODUCTIVITY_")}
    env.update(
        GITPRODUCTIVITY_DATABASE_URL=database_url,
        GITPRODUCTIVITY_DATA_DIR=str(tmp_path / "server-data"),
        GITPRODUCTIVITY_RETRY_SCHEDULE="0.2,0.2",
        GITPRODUCTIVITY_WEBHOOK_TIMEOUT="3",
        GITPRODUCTIVITY_LOG_LEVEL="WARNING",
        GITPRODUCTIVITY_WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8",  # the test receivers listen on loopback
    )
    log = tmp_path / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [EXE, "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, proc, timeout=30, describe=log.read_text)
        yield Server(url, proc, log)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    output = log.read_text()
    assert "Traceback" not in output, output


@dataclass
class UI:
    """A browser tab on the server, with the console watched: any page error fails the test."""

    page: Any
    base: str
    errors: list[str] = field(default_factory=list)

    @staticmethod
    def accept_dialogs(dialog: Any) -> None:
        dialog.accept()

    def goto(self, path: str) -> Any:
        return self.page.goto(self.base + path)

    def sign_in(self, tenant: Tenant) -> None:
        self.goto("/login")
        self.page.get_by_label("Email").fill(tenant.email)
        self.page.get_by_label("Password").fill(tenant.password)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(re.compile(r"^(?!.*/login).*$"))

    def screenshot(self, name: str, tmp_path: Path) -> Path:
        """Into tmp_path always; into docs/screenshots as well when GP_UPDATE_SCREENSHOTS=1."""
        path = tmp_path / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 5_000
        if os.environ.get("GP_UPDATE_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, SCREENSHOTS / path.name)
        return path


@pytest.fixture
def ui(browser: Any, server: Server) -> Iterator[UI]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(10_000)
    page = context.new_page()
    ui = UI(page, server.url)
    page.on("console", lambda msg: ui.errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: ui.errors.append(str(exc)))
    page.on("dialog", ui.accept_dialogs)  # confirmations: a test that needs "cancel" removes this listener
    yield ui
    context.close()
    # 4xx answers to our own deliberate bad submissions show up as console errors; nothing else may.
    unexpected = [e for e in ui.errors if "status of 4" not in e]
    assert not unexpected, unexpected


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A real aiohttp server on 127.0.0.1 in its own thread: records every POST, answers `status`."""

    def __init__(self) -> None:
        import threading

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.status = 200
        self.requests: list[Received] = []
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="webhook-receiver", daemon=True)
        self._loop: Any = None
        self._stop: Any = None

    def _serve(self) -> None:
        import asyncio

        from aiohttp import web

        async def handle(request: web.Request) -> web.Response:
            self.requests.append(Received(dict(request.headers), await request.read()))
            return web.json_response({"received": True}, status=self.status)

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            app = web.Application()
            app.router.add_post("/hooks", handle)
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", self.port).start()
            self._ready.set()
            await self._stop.wait()
            await runner.cleanup()

        asyncio.run(main())  # noqa: TID251 (its own thread: see tests.conftest.run_async)

    def start(self) -> Receiver:
        self._thread.start()
        assert self._ready.wait(10), "receiver did not start"
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def wait_for(self, count: int, timeout: float = 15) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"receiver got {len(self.requests)} requests, expected {count}")
            time.sleep(0.05)
        return self.requests


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()
