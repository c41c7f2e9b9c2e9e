"""The Teams pages, without a browser: add a team, put developers in it by e-mail, take them out, rename,
delete; errors in words next to their fields; another organisation's team is not found."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from gitproductivity.core.db import Database
from gitproductivity.developers import service as developers
from tests.conftest import Tenant
from tests.teams.test_api import _signed_in

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _post(page: TestClient, url: str, origin: str, **form: str) -> tuple[int, str]:
    token = _TOKEN.search(page.get(origin).text)
    assert token is not None
    resp = page.post(url, data={**form, "csrf_token": token.group(1)}, follow_redirects=True)
    return resp.status_code, resp.text


def test_teams_pages(client: TestClient, database: Database, tenant: Tenant, other_tenant: Tenant) -> None:
    with database.session() as session:
        ann = developers.create(session, organization_id=tenant.organization_id, name="Ann", email="ann@example.com")
        ann_id = ann.id
    page = _signed_in(client, tenant)
    assert "No teams yet." in page.get("/teams").text

    status, html = _post(page, "/teams", "/teams", name="Platform")
    assert status == 200 and "Added team Platform." in html and "Nobody in this team yet." in html
    team_id = re.search(r'/teams/(team_[0-9a-z]+)/developers"', html)
    assert team_id is not None
    url = f"/teams/{team_id.group(1)}"

    status, html = _post(page, "/teams", "/teams", name="platform")
    assert status == 409 and "another team has this name" in html
    status, html = _post(page, "/teams", "/teams", name="")
    assert status == 422 and 'id="e-name"' in html

    status, html = _post(page, f"{url}/developers", url, email="ANN@example.com")
    assert status == 200 and "Added Ann to the team." in html and f'href="/developers/{ann_id}"' in html
    status, html = _post(page, f"{url}/developers", url, email="ann@example.com")
    assert "Ann is already in the team." in html
    status, html = _post(page, f"{url}/developers", url, email="nobody@example.com")
    assert status == 422 and "no developer has this e-mail address" in html
    assert '<span class="count">1</span>' in page.get("/teams").text
    assert f'Teams: <a href="{url}">Platform</a>' in page.get(f"/developers/{ann_id}").text

    status, html = _post(page, f"{url}/developers/{ann_id}/remove", url)
    assert "Took Ann out of the team." in html and "Nobody in this team yet." in html
    status, html = _post(page, f"{url}/rename", url, name="Core")
    assert "Renamed the team to Core." in html
    status, html = _post(page, f"{url}/delete", url)
    assert "Deleted team Core." in html and "No teams yet." in html
    assert page.get(url).status_code == 404

    # Another organisation's team is not found, and theirs are not listed.
    theirs = _signed_in(client, other_tenant)
    _post(page, "/teams", "/teams", name="Ours")
    ours = re.search(r'href="(/teams/team_[0-9a-z]+)"', page.get("/teams").text)
    assert ours is not None and page.get(ours.group(1)).status_code == 200
    assert "Ours" not in theirs.get("/teams").text
    assert theirs.get(ours.group(1)).status_code == 404
    status, _html = _post(theirs, f"{ours.group(1)}/delete", "/teams")
    assert status == 404 and page.get(ours.group(1)).status_code == 200
