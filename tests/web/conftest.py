"""End-to-end UI tests: a real `gitproductivity serve` on 127.0.0.1 and Debian's Chromium driven by Playwright.

Locally, a machine without Chromium (or without the playwright package) skips these tests with the reason;
in CI (`CI=true`) that is a failure instead: `.ci/run` installs Chromium.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Tenant, _in_ci, inherited_env, wait_until_serving
from tests.netutil import Receiver, listening_socket, port_of, serve_command

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
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


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
    sock = listening_socket()
    env = inherited_env()
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
        argv, keywords = serve_command(sock)
        proc = subprocess.Popen(
            argv,
            **keywords,
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    url = f"http://127.0.0.1:{port_of(sock)}"
    try:
        # Generous: on a loaded machine, importing the app and checking the migrations alone took over 30 s.
        wait_until_serving(url, proc, timeout=90, describe=log.read_text)
        yield Server(url, proc, log)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        sock.close()
    output = log.read_text()
    assert "Traceback" not in output, output


@dataclass
class UI:
    """A browser tab on the server, with the console watched: any page error fails the test."""

    page: Any
    base: str
    errors: list[str] = field(default_factory=list)
    expected: set[tuple[int, str]] = field(default_factory=set)

    ASSETS = frozenset({"document", "stylesheet", "script", "image", "font"})

    def path(self) -> str:
        """The current page's path, without the query."""
        return str(self.page.url)[len(self.base) :].split("?", 1)[0]

    def expect_status(self, status: int, path: str) -> None:
        """A deliberate bad submission: the browser's console error for this answer (status, URL path) is fine."""
        self.expected.add((status, path))

    def on_console(self, msg: Any) -> None:
        if msg.type != "error":
            return
        answered = re.search(r"status of (\d{3})", msg.text)
        url = msg.location.get("url", "") if isinstance(msg.location, dict) else ""
        path = url[len(self.base) :].split("?", 1)[0] if url.startswith(self.base) else url
        if answered and (int(answered.group(1)), path) in self.expected:
            return
        self.errors.append(f"{msg.text} ({url})")

    def on_response(self, response: Any) -> None:
        """A missing or failing page, stylesheet, script, image or font fails the test, whatever the console says."""
        request = response.request
        if response.status >= 400 and request.resource_type in self.ASSETS:
            path = response.url[len(self.base) :].split("?", 1)[0]
            if request.resource_type == "document" and (response.status, path) in self.expected:
                return
            self.errors.append(f"{request.resource_type} {response.url} answered {response.status}")

    def on_request_failed(self, request: Any) -> None:
        if request.resource_type in self.ASSETS - {"document"}:
            self.errors.append(f"{request.resource_type} {request.url} failed: {request.failure}")

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

    def sign_out(self) -> None:
        """Once the page's own requests are done: the bell's first poll, answered after the session ended, would
        send the page to sign in again (`/login?next=/notifications/badge`) instead of where signing out goes."""
        self.page.wait_for_load_state("networkidle")
        self.page.get_by_role("button", name="Sign out").click()

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
    page.on("console", ui.on_console)
    page.on("response", ui.on_response)
    page.on("requestfailed", ui.on_request_failed)
    page.on("pageerror", lambda exc: ui.errors.append(str(exc)))
    page.on("dialog", ui.accept_dialogs)  # confirmations: a test that needs "cancel" removes this listener
    yield ui
    context.close()
    # Only the answers a test declared (`ui.expect_status`) may show up as console errors; nothing else may.
    assert not ui.errors, "\n".join(ui.errors)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()
