"""`gitproductivity users reset-password EMAIL` and `users sign-out-everywhere EMAIL`: an operator resets a
forgotten password or ends someone's sessions from the server's shell. Run through the real entry point
(`cli.main`, which turns errors into one line) on both databases; the prompt through typer's CliRunner."""

from __future__ import annotations

import io
import sys

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from gitproductivity import cli
from gitproductivity.core.db import Database
from gitproductivity.orgs.models import User, UserSession
from tests.conftest import Tenant
from tests.web.test_sessions import COOKIE, _token, sign_in, use_cookie

NEW = "a brand new passphrase"


def _main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str, stdin: str = ""
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["gitproductivity", *args])
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code: int | str | None = 0
    try:
        cli.main()
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return int(code or 0), out.out, out.err


def _sessions(database: Database) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(UserSession)) or 0)


def _password_hash(database: Database, email: str) -> str:
    with database.session() as session:
        return str(session.scalar(select(User.password_hash).where(User.email == email)))


def test_reset_password_from_stdin_ends_every_session_and_the_new_password_signs_in(
    client: TestClient,
    tenant: Tenant,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sign_in(client, tenant)
    stolen = client.cookies[COOKIE]
    sign_in(TestClient(client.app), tenant)  # a second browser
    assert _sessions(database) == 2

    code, out, _err = _main(
        monkeypatch, capsys, "users", "reset-password", tenant.email.upper(), "--password-stdin", stdin=NEW + "\n"
    )
    assert code == 0 and out.strip() == "password reset; 2 sessions ended"
    assert _sessions(database) == 0
    use_cookie(client, stolen)
    assert client.get("/developers", follow_redirects=False).status_code == 303  # the old cookie is worthless
    client.cookies.clear()
    sign_in(client, tenant, password=NEW)  # the new password works...
    client.cookies.clear()
    form = {"email": tenant.email, "password": tenant.password, "csrf_token": _token(client.get("/login").text)}
    refused = client.post("/login", data=form, follow_redirects=False)
    assert refused.status_code != 303, refused.text
    assert _sessions(database) == 1  # only the session the new password started: the old one starts none
    assert NEW not in out  # the password is never echoed


def test_reset_password_prompts_twice(tenant: Tenant, database: Database) -> None:
    before = _password_hash(database, tenant.email)
    runner = CliRunner()
    mismatch = runner.invoke(cli.app, ["users", "reset-password", tenant.email], input=f"{NEW}\nsomething else\n")
    assert mismatch.exit_code != 0 and "do not match" in mismatch.output
    assert _password_hash(database, tenant.email) == before
    done = runner.invoke(cli.app, ["users", "reset-password", tenant.email], input=f"{NEW}\n{NEW}\n")
    assert done.exit_code == 0, done.output
    assert "password reset; 0 sessions ended" in done.output and NEW not in done.output
    assert _password_hash(database, tenant.email) != before


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["reset-password", "nobody@example.com", "--password-stdin"], NEW + "\n", "no user signs in with"),
        (["reset-password", "{email}", "--password-stdin"], "short\n", "must have 12 to 1024 characters"),
        (["reset-password", "{email}", "--password-stdin"], "", "no password on standard input"),
        (["reset-password", "{email}", "--password-stdin"], "x" * 2000 + "\n", "must have 12 to 1024 characters"),
        (["reset-password", "{email}", "--password-stdin"], "twelve chars\x00!!\n", "must not contain NUL"),
        (["reset-password", "{email}", "--password-stdin"], "twelve chars\udcff!!\n", "must not contain NUL"),
        (["sign-out-everywhere", "[/red]@example.com"], "", "no user signs in with [/red]@example.com"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(
    args: list[str],
    stdin: str,
    message: str,
    tenant: Tenant,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = _password_hash(database, tenant.email)
    code, _out, err = _main(monkeypatch, capsys, "users", *[a.format(email=tenant.email) for a in args], stdin=stdin)
    assert code == 1
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert _password_hash(database, tenant.email) == before


def test_sign_out_everywhere_ends_every_session_of_that_user_only(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sign_in(client, tenant)
    copied = client.cookies[COOKIE]
    other = TestClient(client.app)
    sign_in(other, other_tenant)
    before = _password_hash(database, tenant.email)

    code, out, _err = _main(monkeypatch, capsys, "users", "sign-out-everywhere", tenant.email)
    assert code == 0 and out.strip() == "1 session ended"
    use_cookie(client, copied)
    assert client.get("/developers", follow_redirects=False).status_code == 303
    assert other.get("/developers", follow_redirects=False).status_code == 200  # another user keeps theirs
    assert _password_hash(database, tenant.email) == before
    code, out, _err = _main(monkeypatch, capsys, "users", "sign-out-everywhere", tenant.email)
    assert code == 0 and out.strip() == "0 sessions ended"
