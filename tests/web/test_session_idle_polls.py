"""A page's automatic requests do not keep a session alive (issue 12): the bell polls every 15 s on every page,
so an unattended open tab used to keep its session from ever going idle. Polls carry `X-GP-Background: 1`
(`hx-headers` on the polling element) and are checked without counting as activity; what a person does still
counts."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select, update

import gitproductivity
from gitproductivity.core import settings
from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import Database
from gitproductivity.orgs.models import UserSession
from gitproductivity.web.helpers import BACKGROUND_HEADER
from tests.conftest import Tenant
from tests.web.test_sessions import sign_in

TEMPLATES = Path(gitproductivity.__file__).parent / "web" / "templates"
POLL = {"HX-Request": "true", BACKGROUND_HEADER: "1"}
IDLE = 3600  # seconds: GITPRODUCTIVITY_SESSION_IDLE_TIMEOUT for these tests


def _seen(database: Database, ago: timedelta | None = None) -> timedelta:
    """Move the session's last activity `ago` into the past (when given); return how long ago it is now."""
    with database.session() as session:
        if ago is not None:
            session.execute(update(UserSession).values(last_seen_at=utcnow() - ago))
        [row] = list(session.scalars(select(UserSession)))
        return utcnow() - row.last_seen_at


def _short_idle(database_url: str, tmp_path: Path) -> None:
    settings.configure(database_url=database_url, data_dir=tmp_path / "data", session_idle_timeout=IDLE)


def test_the_bells_poll_does_not_count_as_activity(
    client: TestClient, tenant: Tenant, database: Database, database_url: str, tmp_path: Path
) -> None:
    _short_idle(database_url, tmp_path)
    sign_in(client, tenant)
    _seen(database, timedelta(minutes=50))
    for _ in range(3):  # polls keep answering while the session is live...
        badge = client.get("/notifications/badge", headers=POLL, follow_redirects=False)
        assert badge.status_code == 200
    assert _seen(database) >= timedelta(minutes=50)  # ...without moving its last activity

    _seen(database, timedelta(seconds=IDLE + 1))  # an hour of nothing but polls: the session is idle and ends
    badge = client.get("/notifications/badge", headers=POLL, follow_redirects=False)
    assert badge.status_code == 204 and badge.headers["HX-Redirect"].startswith("/login")
    with database.session() as session:
        assert list(session.scalars(select(UserSession))) == []
    assert client.get("/developers", follow_redirects=False).status_code == 303


def test_what_a_person_does_still_counts(
    client: TestClient, tenant: Tenant, database: Database, database_url: str, tmp_path: Path
) -> None:
    _short_idle(database_url, tmp_path)
    sign_in(client, tenant)
    _seen(database, timedelta(minutes=50))
    assert client.get("/developers", follow_redirects=False).status_code == 200
    assert _seen(database) < timedelta(seconds=30)
    # An htmx request without the header (a person's click on an htmx control) counts too.
    _seen(database, timedelta(minutes=50))
    badge = client.get("/notifications/badge", headers={"HX-Request": "true"}, follow_redirects=False)
    assert badge.status_code == 200
    assert _seen(database) < timedelta(seconds=30)


def test_every_polling_element_marks_its_requests_as_background() -> None:
    """The class, not the instance: any element of any template that polls (`hx-trigger="… every Ns"`) sends the
    header, so a new live-updating widget cannot keep sessions alive by forgetting it."""
    tag = re.compile(r"<[a-zA-Z][^>]*>")
    polling = []
    for template in sorted(TEMPLATES.rglob("*.html")):
        for element in tag.findall(template.read_text()):
            if re.search(r"""hx-trigger="[^"]*\bevery\b""", element):
                polling.append((template.name, element))
                assert f'hx-headers=\'{{"{BACKGROUND_HEADER}": "1"}}\'' in element, f"{template.name}: {element}"
    assert {name for name, _ in polling} >= {"base.html", "analysis_status.html", "_deliveries.html", "delivery.html"}


def test_the_rendered_bell_sends_the_header(client: TestClient, tenant: Tenant) -> None:
    sign_in(client, tenant)
    page = client.get("/developers").text
    [bell] = re.findall(r'<a class="bell"[^>]*>', page)
    assert 'hx-get="/notifications/badge"' in bell and f"hx-headers='{{&#34;{BACKGROUND_HEADER}&#34;" not in bell
    assert f'hx-headers=\'{{"{BACKGROUND_HEADER}": "1"}}\'' in bell
