"""Secrets at rest and in logs, on a full run of the real server.

`gitproductivity init`, then `gitproductivity serve` at DEBUG (uvicorn access logs included) with SMTP login
configured; then everything that handles a secret: an API key created, a sign-in with the password, a webhook
created and its secret rotated, deliveries signed with it, an e-mail sent through an SMTP server that checks the
password, a 413 with and without Content-Length. Afterwards no API key, password, webhook secret, SMTP password,
session cookie or server secret key appears in the server's log or in the CLI's logs, and the database holds API
keys and passwords only hashed.
"""

from __future__ import annotations

import http.client
import json
import re
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select

from gitproductivity.core.db import Base, Database
from tests.analysis.gitrepo import Repo, lines
from tests.conftest import inherited_env
from tests.netutil import Mailbox, Receiver, SmtpServer, listening_socket, port_of, serve_command
from tests.webhooks.conftest import wait_for

pytestmark = pytest.mark.slow  # a full run of `gitproductivity serve` and the CLI

EXE = str(Path(sys.executable).with_name("gitproductivity"))


class _Authenticator:
    def __init__(self, username: str, password: str) -> None:
        self.expected = (username.encode(), password.encode())
        self.logins: list[tuple[bytes, bytes]] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=(auth_data.login, auth_data.password) == self.expected)


@pytest.fixture
def smtp_login() -> Iterator[tuple[Mailbox, _Authenticator, int, str]]:
    """A real SMTP server (aiosmtpd) that requires a login with a password only this test knows."""
    password = "smtp-" + secrets.token_urlsafe(12)
    box, auth = Mailbox(), _Authenticator("mailer", password)
    server = SmtpServer(box, authenticator=auth, auth_required=True, auth_require_tls=False)
    server.start()
    yield box, auth, server.port, password
    server.stop()


@pytest.fixture
def live_receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def _dump(database: Database) -> str:
    """Every value of every row of every table, as text."""
    out = []
    with database.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(select(table)).all():
                out.append(json.dumps([str(v) for v in row]))
    return "\n".join(out)


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([EXE, *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _raw_post(port: int, path: str, body: bytes, key: str, *, chunked: bool) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    try:
        if chunked:
            conn.putrequest("POST", path)
            for name, value in {**headers, "Transfer-Encoding": "chunked"}.items():
                conn.putheader(name, value)
            conn.endheaders()
            for start in range(0, len(body), 1024):
                chunk = body[start : start + 1024]
                try:
                    conn.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    break  # the server answered and closed early: fine
            else:
                conn.send(b"0\r\n\r\n")
        else:
            conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        assert json.loads(resp.read())["error"]["code"] == "payload_too_large"
        return resp.status
    finally:
        conn.close()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # loopback only
def test_secrets_are_hashed_at_rest_and_never_logged(
    database: Database,
    database_url: str,
    tmp_path: Path,
    live_receiver: Receiver,
    smtp_login: tuple[Mailbox, _Authenticator, int, str],
) -> None:
    mailbox, authenticator, smtp_port, smtp_password = smtp_login
    server_key = "sk-" + secrets.token_urlsafe(24)
    sock = listening_socket()
    port = port_of(sock)
    env = inherited_env()
    env.update(
        GITPRODUCTIVITY_DATABASE_URL=database_url,
        GITPRODUCTIVITY_DATA_DIR=str(tmp_path / "data"),
        GITPRODUCTIVITY_LOG_LEVEL="DEBUG",
        GITPRODUCTIVITY_SECRET_KEY=server_key,
        GITPRODUCTIVITY_SMTP_HOST="127.0.0.1",
        GITPRODUCTIVITY_SMTP_PORT=str(smtp_port),
        GITPRODUCTIVITY_SMTP_USERNAME="mailer",
        GITPRODUCTIVITY_SMTP_PASSWORD=smtp_password,
        GITPRODUCTIVITY_WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8",
        GITPRODUCTIVITY_WEBHOOK_TIMEOUT="3",
        GITPRODUCTIVITY_ANALYSIS_POLL_INTERVAL="0.2",
        GITPRODUCTIVITY_MAX_BODY_BYTES="4096",
    )
    cli_logs: list[str] = []

    init = _cli(env, "init", "--email", "owner@example.com", "--json")
    cli_logs.append(init.stderr)
    created = json.loads(init.stdout)  # the one place these are shown, by design
    password, first_key = created["password"], created["api_key"]

    log_path = tmp_path / "server.log"
    with log_path.open("w") as out:
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
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(base, proc), timeout=60, what="server up")
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {first_key}"

        second_key = api.post(base + "/v1/api-keys", json={"name": "ci"}, timeout=30).json()["key"]
        assert requests.get(base + "/v1/developers", headers={"Authorization": f"Bearer {second_key}"}, timeout=30).ok

        browser = requests.Session()
        page = browser.get(base + "/login", timeout=30).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        form = {"email": "owner@example.com", "password": password, "csrf_token": token.group(1)}
        signed_in = browser.post(base + "/login", data=form, allow_redirects=False, timeout=30)
        assert signed_in.status_code == 303
        cookie = browser.cookies["gp_session"]
        assert browser.get(base + "/developers", allow_redirects=False, timeout=30).status_code == 200

        hook = api.post(base + "/v1/webhooks", json={"url": live_receiver.url("/ok"), "events": ["*"]}, timeout=30)
        first_secret = hook.json()["secret"]
        rotated = api.post(base + f"/v1/webhooks/{hook.json()['id']}/rotate-secret", json={}, timeout=30)
        second_secret = rotated.json()["secret"]
        assert first_secret != second_secret
        api.post(base + "/v1/developers", json={"name": "Jane", "email": "jane@example.com"}, timeout=30)
        wait_for(lambda: len(live_receiver.on("/ok")) >= 2, timeout=30, what="test and event deliveries")
        assert all("webhook-signature" in {k.lower() for k in r.headers} for r in live_receiver.requests)

        broken = Repo(tmp_path / "broken")  # its analysis fails, which mails the owner through SMTP with a login
        broken.commit("A <a@example.com>", "2026-01-01T10:00:00Z", {"a.txt": lines(2)})
        (broken.path / ".git" / "refs" / "heads" / "main").write_text("0" * 39 + "1\n")
        assert api.post(base + "/v1/repositories", json={"url": str(broken.path)}, timeout=30).status_code == 201
        wait_for(lambda: mailbox.messages, timeout=60, what="notification e-mail")
        assert authenticator.logins == [(b"mailer", smtp_password.encode())]

        big = json.dumps({"name": "x" * 8000, "email": "big@example.com"}).encode()
        assert _raw_post(port, "/v1/developers", big, first_key, chunked=False) == 413
        assert _raw_post(port, "/v1/developers", big, first_key, chunked=True) == 413
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        sock.close()

    listed = _cli(env, "webhooks", "list")
    cli_logs += [listed.stdout, listed.stderr]
    log = log_path.read_text()
    assert " DEBUG " in log and '"POST /v1/webhooks HTTP/1.1" 201' in log and "POST /login" in log  # all was logged
    found = {
        name: value
        for name, value in {
            "owner password": password,
            "first API key": first_key,
            "second API key": second_key,
            "webhook secret": first_secret,
            "rotated webhook secret": second_secret,
            "webhook secret, unprefixed": first_secret.removeprefix("whsec_"),
            "SMTP password": smtp_password,
            "session cookie": cookie,
            "server secret key": server_key,
        }.items()
        if value in log or any(value in text for text in cli_logs)
    }
    assert not found, f"secrets in the logs: {sorted(found)}"

    stored = _dump(database)
    for value in (password, first_key, second_key, first_key.removeprefix("gpk_")):
        assert value not in stored
    assert "$argon2id$" in stored


def _healthy(base: str, proc: subprocess.Popen[str]) -> bool:
    assert proc.poll() is None, "server exited"
    try:
        return requests.get(base + "/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False
