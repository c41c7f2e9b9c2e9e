"""`/v1/teams`: names unique in any case, developers in several teams, idempotent membership, and `team_id` on
the metrics."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from fastapi.testclient import TestClient

from gitproductivity.core.db import Database
from gitproductivity.repositories import flows
from tests.conftest import Tenant
from tests.metrics.test_team_series import rollup


def _dev(api: TestClient, name: str) -> str:
    resp = api.post("/v1/developers", json={"name": name, "email": f"{name.lower()}@example.com"})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


def test_teams_are_created_listed_renamed_and_deleted(api: TestClient) -> None:
    core = api.post("/v1/teams", json={"name": "  Core   platform "})
    assert core.status_code == 201, core.text
    team = core.json()
    assert team["name"] == "Core platform" and team["member_count"] == 0 and team["id"].startswith("team_")
    api.post("/v1/teams", json={"name": "apps"})

    clash = api.post("/v1/teams", json={"name": "core PLATFORM"})
    assert clash.status_code == 409, clash.text
    error = clash.json()["error"]
    assert set(error) == {"code", "message", "details"} and error["code"] == "conflict"
    assert "Core platform" in error["message"] and "another name" in error["message"]
    assert api.post("/v1/teams", json={"name": "   "}).status_code == 422
    assert api.post("/v1/teams", json={}).status_code == 422

    listed = api.get("/v1/teams").json()
    assert [t["name"] for t in listed["data"]] == ["apps", "Core platform"]  # by name, any case
    assert listed["total"] == 2 and not listed["has_more"]

    assert api.patch(f"/v1/teams/{team['id']}", json={"name": "APPS"}).status_code == 409
    renamed = api.patch(f"/v1/teams/{team['id']}", json={"name": "Platform"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Platform"
    assert api.patch(f"/v1/teams/{team['id']}", json={"name": "platform"}).json()["name"] == "platform"
    assert api.get(f"/v1/teams/{team['id']}").json()["name"] == "platform"

    assert api.delete(f"/v1/teams/{team['id']}").status_code == 204
    gone = api.get(f"/v1/teams/{team['id']}")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
    assert api.delete(f"/v1/teams/{team['id']}").status_code == 404
    assert api.get("/v1/teams/team_nope").status_code == 404


def test_membership_is_idempotent_and_a_developer_may_be_in_several_teams(api: TestClient) -> None:
    core = api.post("/v1/teams", json={"name": "Core"}).json()["id"]
    web = api.post("/v1/teams", json={"name": "Web"}).json()["id"]
    ann, bob, cid = _dev(api, "Ann"), _dev(api, "Bob"), _dev(api, "Cid")

    for _ in range(2):  # the same answer the second time, and still one membership
        assert api.put(f"/v1/teams/{core}/developers/{ann}").status_code == 204
    assert api.put(f"/v1/teams/{core}/developers/{bob}").status_code == 204
    assert api.put(f"/v1/teams/{web}/developers/{ann}").status_code == 204
    assert api.get(f"/v1/teams/{core}").json()["member_count"] == 2
    assert [t["member_count"] for t in api.get("/v1/teams").json()["data"]] == [2, 1]

    members = api.get(f"/v1/teams/{core}/developers", params={"sort": "-name"}).json()
    assert [d["name"] for d in members["data"]] == ["Bob", "Ann"] and members["total"] == 2
    assert [d["name"] for d in api.get(f"/v1/teams/{core}/developers", params={"q": "AN"}).json()["data"]] == ["Ann"]

    for _ in range(2):
        assert api.delete(f"/v1/teams/{core}/developers/{bob}").status_code == 204
    assert api.get(f"/v1/teams/{core}").json()["member_count"] == 1
    assert api.get(f"/v1/teams/{web}").json()["member_count"] == 1  # Ann is still in both

    assert api.put(f"/v1/teams/{core}/developers/dev_01HZZZZZZZZZZZZZZZZZZZZZZZ").status_code == 404
    assert api.put(f"/v1/teams/{core}/developers/nonsense").status_code == 404
    api.delete(f"/v1/developers/{cid}")
    removed = api.put(f"/v1/teams/{core}/developers/{cid}")
    assert removed.status_code == 409 and "removed" in removed.json()["error"]["message"]

    # A removed member stays in the team (history is kept) but is not counted or listed unless asked.
    assert api.put(f"/v1/teams/{web}/developers/{bob}").status_code == 204
    api.delete(f"/v1/developers/{bob}")
    assert api.get(f"/v1/teams/{web}").json()["member_count"] == 1
    everyone = api.get(f"/v1/teams/{web}/developers", params={"include_removed": "true"}).json()
    assert everyone["total"] == 2

    # Deleting a team keeps its developers.
    assert api.delete(f"/v1/teams/{core}").status_code == 204
    assert api.get(f"/v1/developers/{ann}").status_code == 200


def _signed_in(client: TestClient, tenant: Tenant) -> TestClient:
    page = TestClient(client.app)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get("/login").text)
    assert token is not None
    form = {"email": tenant.email, "password": tenant.password, "csrf_token": token.group(1)}
    assert page.post("/login", data=form, follow_redirects=False).status_code == 303
    return page


def test_team_id_filters_the_metrics_and_the_dashboard(
    api: TestClient, client: TestClient, database: Database, tenant: Tenant, tmp_path: Path
) -> None:
    org = tenant.organization_id
    ann, bob = _dev(api, "Ann"), _dev(api, "Bob")
    (tmp_path / "r" / ".git").mkdir(parents=True)
    with database.session() as session:
        repo = flows.connect(session, organization_id=org, url=str(tmp_path / "r")).id
        session.add_all(
            [
                rollup(org, repo, ann, date(2026, 1, 5), 3, 30),
                rollup(org, repo, bob, date(2026, 1, 6), 5, 50),
                rollup(org, repo, bob, date(2026, 1, 7), 1, 10),
            ]
        )
    team = api.post("/v1/teams", json={"name": "Solo"}).json()["id"]
    empty = api.get("/v1/metrics/developers", params={"team_id": team}).json()
    assert empty["data"] == [] and empty["total"] == 0 and empty["team_id"] == team

    api.put(f"/v1/teams/{team}/developers/{ann}")
    everyone = api.get("/v1/metrics/developers").json()
    only = api.get("/v1/metrics/developers", params={"team_id": team}).json()
    assert [r["name"] for r in everyone["data"]] == ["Bob", "Ann"] and everyone["total"] == 2
    assert [r["name"] for r in only["data"]] == ["Ann"] and only["total"] == 1
    assert only["data"][0]["totals"]["commits"] == 3 and only["data"][0]["totals"]["lines_added"] == 30

    missing = api.get("/v1/metrics/developers", params={"team_id": "team_01HZZZZZZZZZZZZZZZZZZZZZZZ"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"

    # The dashboard takes the team too: a picker, and only Ann's figures.
    browser = _signed_in(client, tenant)
    whole = browser.get("/dashboard", params={"range": "all"}).text
    assert 'id="stat-commits">9<' in whole and 'name="team_id"' in whole
    assert f'<option value="Solo" data-id="{team}">' in whole  # the searchable team picker's suggestion
    solo = browser.get("/dashboard", params={"team_id": team, "range": "all"}).text
    assert 'id="stat-commits">3<' in solo and "Bob" not in solo.split('id="stat-commits"')[1]
    assert f'name="team_id" value="{team}"' in solo and 'value="Solo" data-picker' in solo
    gone = browser.get("/dashboard", params={"team_id": "team_01HZZZZZZZZZZZZZZZZZZZZZZZ"})
    assert gone.status_code == 200 and "That team or repository does not exist" in gone.text


def test_merging_developers_keeps_the_teams_of_both(api: TestClient) -> None:
    core = api.post("/v1/teams", json={"name": "Core"}).json()["id"]
    web = api.post("/v1/teams", json={"name": "Web"}).json()["id"]
    ann, dupe = _dev(api, "Ann"), _dev(api, "Annie")
    api.put(f"/v1/teams/{core}/developers/{ann}")
    api.put(f"/v1/teams/{core}/developers/{dupe}")
    api.put(f"/v1/teams/{web}/developers/{dupe}")
    assert api.post(f"/v1/developers/{ann}/merge", json={"developer_id": dupe}).status_code == 200
    for team in (core, web):
        listed = api.get(f"/v1/teams/{team}/developers", params={"include_removed": "true"}).json()["data"]
        assert [d["id"] for d in listed] == [ann], team
