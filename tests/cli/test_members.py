"""`gitproductivity members invite EMAIL --role R | list | set-role | remove`, through the real entry point
(`cli.main`: errors are one line, never a traceback), on both databases."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from gitproductivity.core import settings
from gitproductivity.core.db import Database
from tests.cli.test_users import _main
from tests.conftest import Tenant
from tests.members.test_members import _accept


def test_invite_list_set_role_and_remove(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tenant: Tenant,
    database: Database,
    database_url: str,
    client: TestClient,
) -> None:
    settings.configure(database_url=database_url, base_url="https://gp.example.com/")
    code, out, err = _main(monkeypatch, capsys, "members", "invite", "Ann@Example.com", "--role", "admin")
    assert code == 0, err
    link = next(line for line in out.splitlines() if line.startswith("https://gp.example.com/invitations/"))
    assert "invited ann@example.com as admin" in out
    # The printed link is the real one: it opens the page where Ann chooses her password.
    assert _accept(TestClient(client.app), link).status_code == 303

    code, out, _ = _main(monkeypatch, capsys, "members", "list", "--json")
    rows = json.loads(out)
    assert [(m["email"], m["role"], m["status"]) for m in rows] == [
        ("owner@example.com", "owner", "active"),
        ("ann@example.com", "admin", "active"),
    ]
    assert _main(monkeypatch, capsys, "members", "set-role", "ann@example.com", "--role", "viewer")[1].strip() == (
        "ann@example.com is now viewer"
    )
    code, out, _ = _main(monkeypatch, capsys, "members", "remove", rows[1]["id"])
    assert code == 0 and out.strip() == "removed ann@example.com"
    assert [m["email"] for m in json.loads(_main(monkeypatch, capsys, "members", "list", "--json")[1])] == [
        "owner@example.com"
    ]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["invite", "owner@example.com", "--role", "viewer"], "already a member of this organisation"),
        (["invite", "x@example.com", "--role", "boss"], "choose owner, admin or viewer"),
        (["remove", "owner@example.com"], "last owner"),
        (["set-role", "owner@example.com", "--role", "admin"], "last owner"),
        (["remove", "nobody@example.com"], "no member of this organisation has the address"),
    ],
)
def test_refusals_are_one_line_in_words(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tenant: Tenant,
    args: list[str],
    words: str,
) -> None:
    code, out, err = _main(monkeypatch, capsys, "members", *args)
    assert code != 0 and words in err, (out, err)


def test_notifications_list_shows_the_read_state_of_the_member_asked_about(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tenant: Tenant,
    database: Database,
    client: TestClient,
) -> None:
    from gitproductivity.notifications import service as notifications

    _, out, _ = _main(monkeypatch, capsys, "members", "invite", "bea@example.com", "--role", "owner")
    _accept(TestClient(client.app), next(line for line in out.splitlines() if "/invitations/" in line))
    with database.session() as session:
        note = notifications.create(session, organization_id=tenant.organization_id, kind="k", subject="s", body="b")
    assert client.post(f"/v1/notifications/{note.id}/read", headers=tenant.headers).status_code == 200

    def unread(*reader: str) -> list[str]:
        out = _main(monkeypatch, capsys, "notifications", "list", "--unread", "--json", *reader)[1]
        return [n["id"] for n in json.loads(out)]

    assert unread() == [] and unread("--reader", tenant.email) == []  # the first owner's, by default
    assert unread("--reader", "bea@example.com") == [note.id]


def test_reset_password_activates_an_invited_member_and_their_link_stops_working(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tenant: Tenant,
    client: TestClient,
) -> None:
    from tests.web.test_sessions import HTML, sign_in

    _, out, _ = _main(monkeypatch, capsys, "members", "invite", "cy@example.com", "--role", "viewer")
    link = next(line for line in out.splitlines() if "/invitations/" in line)
    new = "set by the operator, long enough"
    code, _, err = _main(
        monkeypatch, capsys, "users", "reset-password", "cy@example.com", "--password-stdin", stdin=new
    )
    assert code == 0, err
    assert client.get("/" + link.split("/", 3)[3], headers=HTML).status_code == 404
    sign_in(TestClient(client.app), Tenant("", "cy@example.com", new, ""))
    rows = json.loads(_main(monkeypatch, capsys, "members", "list", "--json")[1])
    assert [(m["email"], m["status"]) for m in rows][1] == ("cy@example.com", "active")
