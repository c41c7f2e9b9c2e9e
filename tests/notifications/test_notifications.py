"""In-app notifications over the API, and the SMTP mailer against a real aiosmtpd server."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from gitproductivity.core import settings
from gitproductivity.core.db import Database
from gitproductivity.notifications import service
from gitproductivity.notifications.mailer import SmtpMailer, get_mailer
from tests.conftest import Tenant
from tests.webhooks.conftest import Mailbox, wait_for


def test_list_page_and_mark_read(
    api: TestClient, client: TestClient, tenant: Tenant, other_tenant: Tenant, database: Database
) -> None:
    with database.session() as session:
        for n in range(3):
            service.create(
                session, organization_id=tenant.organization_id, kind="delivery.failed", subject=f"s{n}", body="b"
            )
        service.create(session, organization_id=other_tenant.organization_id, kind="x", subject="theirs", body="b")
    first = api.get("/v1/notifications", params={"limit": 2}).json()
    assert [n["subject"] for n in first["data"]] == ["s2", "s1"] and first["has_more"] is True
    rest = api.get("/v1/notifications", params={"limit": 2, "after": first["next_cursor"]}).json()
    assert [n["subject"] for n in rest["data"]] == ["s0"] and rest["has_more"] is False

    target = first["data"][0]["id"]
    assert api.post(f"/v1/notifications/{target}/read").json()["read_at"] is not None
    unread = api.get("/v1/notifications", params={"unread": True}).json()["data"]
    assert [n["subject"] for n in unread] == ["s1", "s0"]
    theirs = client.get("/v1/notifications", headers=other_tenant.headers).json()["data"]
    assert [n["subject"] for n in theirs] == ["theirs"]
    assert client.post(f"/v1/notifications/{target}/read", headers=other_tenant.headers).status_code == 404


def test_owners_get_the_email_only_after_commit(
    database: Database,
    database_url: str,
    tenant: Tenant,
    tmp_path: Path,
    smtp: tuple[Mailbox, int],
) -> None:
    box, port = smtp
    settings.configure(database_url=database_url, data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=port)
    try:
        with database.session() as session:
            service.create(session, organization_id=tenant.organization_id, kind="k", subject="rolled back", body="x")
            raise RuntimeError("abort")
    except RuntimeError:
        pass
    with database.session() as session:
        service.create(session, organization_id=tenant.organization_id, kind="k", subject="kept", body="hello owner")
    [mail] = wait_for(lambda: box.messages, what="e-mail")
    assert mail["to"] == [tenant.email]
    assert "Subject: [GitProductivity] kept" in mail["data"] and "hello owner" in mail["data"]
    assert all("rolled back" not in m["data"] for m in box.messages)


def test_mailer_is_off_without_smtp_host_and_sends_with_it(smtp: tuple[Mailbox, int]) -> None:
    box, port = smtp
    assert get_mailer(settings.Settings(smtp_host=None)) is None
    mailer = get_mailer(settings.Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_from="gp@example.com"))
    assert isinstance(mailer, SmtpMailer)
    mailer.send(to=["a@example.com", "b@example.com"], subject="Hi", body="Body text")
    [mail] = box.messages
    assert mail["from"] == "gp@example.com" and mail["to"] == ["a@example.com", "b@example.com"]


def test_mark_all_read_is_the_callers_own_and_counts_what_it_marked(
    api: TestClient, client: TestClient, tenant: Tenant, other_tenant: Tenant, database: Database
) -> None:
    with database.session() as session:
        for n in range(3):
            service.create(
                session, organization_id=tenant.organization_id, kind="delivery.failed", subject=f"s{n}", body="b"
            )
        service.create(session, organization_id=other_tenant.organization_id, kind="x", subject="theirs", body="b")
    first = api.get("/v1/notifications").json()["data"][0]["id"]
    assert api.post(f"/v1/notifications/{first}/read").status_code == 200

    marked = api.post("/v1/notifications/read-all")
    assert marked.status_code == 200 and marked.json() == {"marked": 2}  # the one read before is not counted
    assert api.get("/v1/notifications", params={"unread": True}).json()["data"] == []
    assert api.post("/v1/notifications/read-all").json() == {"marked": 0}  # asking again changes nothing
    # Another reader of the same organisation (another member) and another organisation: untouched.
    with database.session() as session:
        others = service.list_(session, organization_id=tenant.organization_id, reader_id="usr_other", unread=True)
        assert len(others) == 3
        assert service.mark_all_read(session, organization_id=tenant.organization_id, reader_id="usr_other") == 3
    theirs = client.get("/v1/notifications", params={"unread": True}, headers=other_tenant.headers).json()["data"]
    assert [n["subject"] for n in theirs] == ["theirs"]
    assert client.post("/v1/notifications/read-all", headers=other_tenant.headers).json() == {"marked": 1}
