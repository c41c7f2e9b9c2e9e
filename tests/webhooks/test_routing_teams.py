"""The routing page without a browser: the team picker writes the team's developers at the time of saving into the
developer filter, and the ordering choice is saved; errors in words next to their fields."""

from __future__ import annotations

import html as markup
import re

from fastapi.testclient import TestClient

from gitproductivity.core.db import Database
from gitproductivity.core.settings import Settings
from gitproductivity.developers import service as developers
from gitproductivity.teams import service as teams
from gitproductivity.webhooks import endpoints
from tests.conftest import Tenant
from tests.teams.test_api import _signed_in

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _post(page: TestClient, url: str, **form: str) -> tuple[int, str]:
    token = _TOKEN.search(page.get(url).text)
    assert token is not None
    resp = page.post(url, data={**form, "csrf_token": token.group(1)}, follow_redirects=True)
    return resp.status_code, markup.unescape(resp.text)


def test_the_team_picker_writes_its_members_now_and_ordering_is_saved(
    client: TestClient, database: Database, tenant: Tenant, fast: Settings
) -> None:
    org = tenant.organization_id
    with database.session() as session:
        ann = developers.create(session, organization_id=org, name="Ann", email="ann@example.com").id
        bob = developers.create(session, organization_id=org, name="Bob", email="bob@example.com").id
        developers.create(session, organization_id=org, name="Cy", email="cy@example.com")
        platform = teams.create(session, organization_id=org, name="Platform")
        teams.add_member(session, organization_id=org, team_id=platform.id, developer_id=ann)
        teams.add_member(session, organization_id=org, team_id=platform.id, developer_id=bob)
        empty = teams.create(session, organization_id=org, name="Empty").id
        platform_id = platform.id
        hook_id = endpoints.create(session, organization_id=org, url="https://hooks.invalid/in", events=["*"]).id
    page = _signed_in(client, tenant)
    url = f"/settings/webhooks/{hook_id}/routing"
    shown = page.get(url).text
    assert f'<option value="{platform_id}">Platform</option>' in shown and "at the time you save" in shown

    status, html = _post(page, url, add_team=empty)
    assert status == 422 and "The team “Empty” has no developers yet" in html

    status, _html = _post(page, url, add_team=platform_id, ordering="per_developer")
    assert status == 200
    with database.session() as session:
        hook = endpoints.get(session, organization_id=org, webhook_id=hook_id)
        assert hook.ordering == "per_developer"
        assert hook.event_filter == {"data.developer_id": {"$in": sorted([ann, bob])}}
        # A member who joins later is not in the saved filter: the page said so.
        later = developers.create(session, organization_id=org, name="Di", email="di@example.com").id
        teams.add_member(session, organization_id=org, team_id=platform_id, developer_id=later)
    with database.session() as session:
        assert later not in str(endpoints.get(session, organization_id=org, webhook_id=hook_id).event_filter)
    shown = markup.unescape(page.get(url).text)
    assert f'name="developer_ids" value="{ann}" checked' in shown
    assert 'name="ordering" value="per_developer" checked' in shown

    status, html = _post(page, url, ordering="per_team")
    assert status == 422 and "one of" in html and 'id="e-ordering"' in html
