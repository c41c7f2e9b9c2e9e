"""Tenant isolation, generated from the app's own OpenAPI document.

One organisation ("us") owns one of everything; another organisation's API key then calls every `/v1`
operation. Every operation with an id in its path answers 404 in the one error shape for our ids (reads,
updates, deletes and actions alike) and changes nothing in the database; every list shows none of our rows.

A new operation fails this test until its path parameters (and its request body, if it needs one) are known
below: isolation is then checked for it without further work.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from gitproductivity.core.db import Base, Database
from gitproductivity.notifications import service as notifications
from tests.analysis.gitrepo import drain
from tests.conftest import Tenant

_METHODS = ("get", "post", "put", "patch", "delete")
_PARAM = re.compile(r"{([^}]+)}")
#: Columns that reading may legitimately touch (an API key's coarse "last used" time).
_VOLATILE = {"last_used_at"}
#: Text only our rows contain.
OUR_TEXT = (
    "invited@ours.example",
    "Ours team",
    "zed@ours.example",
    "zed-alias@ours.example",
    "jane@example.com",
    "ours-note-subject",
    "sample-repo",
)
#: Documents that are the same for every organisation (their examples may happen to use our sample text).
SAME_FOR_EVERYONE = {"/v1/event-types"}


def _operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    spec = client.get("/openapi.json").json()
    return [
        (method.upper(), path, op)
        for path, item in spec["paths"].items()
        if path.startswith("/v1/")
        for method, op in item.items()
        if method in _METHODS
    ]


def _ours(api: TestClient, tenant: Tenant, database: Database, git_repo: Path) -> dict[str, str]:
    """One of everything for `tenant`; returns a value for every path parameter name."""
    repo = api.post("/v1/repositories", json={"url": str(git_repo)}).json()
    assert drain() == ["succeeded"]
    analysis = api.get(f"/v1/repositories/{repo['id']}/analyses").json()["data"][0]
    dev = api.post("/v1/developers", json={"name": "Zed Ours", "email": "zed@ours.example"}).json()
    assert api.post(f"/v1/developers/{dev['id']}/aliases", json={"email": "zed-alias@ours.example"}).status_code == 201
    # A name that never resolves (RFC 6761 .invalid) passes the save-time check; its test delivery fails.
    hook = api.post("/v1/webhooks", json={"url": "http://hooks.invalid:9/ours", "events": ["*"]}).json()
    key = api.post("/v1/api-keys", json={"name": "second key"}).json()
    member = api.post("/v1/members", json={"email": "invited@ours.example", "role": "admin"}).json()
    with database.session() as session:
        note = notifications.create(
            session, organization_id=tenant.organization_id, kind="test", subject="ours-note-subject", body="ours"
        )
        note_id = note.id
    team = api.post("/v1/teams", json={"name": "Ours team"}).json()
    assert api.put(f"/v1/teams/{team['id']}/developers/{dev['id']}").status_code == 204
    event = api.get("/v1/events").json()["data"][0]
    return {
        "team_id": team["id"],
        "developer_id": dev["id"],
        "email": "zed-alias@ours.example",
        "repository_id": repo["id"],
        "analysis_id": analysis["id"],
        "event_id": event["id"],
        "webhook_id": hook["id"],
        "delivery_id": hook["test"]["delivery_id"],
        "notification_id": note_id,
        "key_id": key["id"],
        "member_id": member["id"],
    }


def _bodies(ids: dict[str, str], theirs: str) -> dict[tuple[str, str], dict[str, Any]]:
    """A valid body for every operation that needs one, so that only ownership can make it fail."""
    return {
        ("POST", "/v1/developers/{developer_id}/aliases"): {"email": "stolen@theirs.example"},
        ("POST", "/v1/developers/{developer_id}/merge"): {"developer_id": theirs},
        ("POST", "/v1/repositories/{repository_id}/analyses"): {"full": True},
        ("PATCH", "/v1/webhooks/{webhook_id}"): {"enabled": False, "url": "https://theirs.example/hook"},
        ("POST", "/v1/webhooks/{webhook_id}/recover"): {"since": "2000-01-01T00:00:00Z"},
        ("POST", "/v1/webhooks/{webhook_id}/rotate-secret"): {},
        ("POST", "/v1/webhooks/{webhook_id}/test"): {},
        ("PATCH", "/v1/members/{member_id}"): {"role": "viewer"},
        ("POST", "/v1/webhooks/{webhook_id}/test-filter"): {"event": {"type": "developer.created", "data": {}}},
        ("PATCH", "/v1/teams/{team_id}"): {"name": "Stolen team"},
    }


def _snapshot(database: Database) -> dict[str, list[str]]:
    with database.engine.connect() as conn:
        out = {}
        for table in Base.metadata.sorted_tables:
            cols = [c for c in table.columns if c.name not in _VOLATILE]
            rows = conn.execute(select(*cols)).all()
            out[table.name] = sorted(json.dumps([str(v) for v in row]) for row in rows)
        return out


def test_another_organisation_gets_404_for_our_ids_and_never_sees_our_rows(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, database: Database, git_repo: Path
) -> None:
    api = TestClient(client.app, raise_server_exceptions=False, headers=tenant.headers)
    ids = _ours(api, tenant, database, git_repo)
    foreign = TestClient(client.app, raise_server_exceptions=False, headers=other_tenant.headers)
    theirs = foreign.post("/v1/developers", json={"name": "Their Dev", "email": "dev@theirs.example"}).json()["id"]
    bodies = _bodies(ids, theirs)
    operations = _operations(client)
    assert len(operations) > 30  # the document was read

    before = _snapshot(database)
    checked_ids, checked_lists = [], []
    for method, path, op in operations:
        names = _PARAM.findall(path)
        unknown = [n for n in names if n not in ids]
        assert not unknown, f"{method} {path}: add an owned value for {unknown} to this test"
        url = _PARAM.sub(lambda m: ids[m.group(1)], path)
        needs_body = op.get("requestBody", {}).get("required", False)
        if names:
            assert not needs_body or (method, path) in bodies, f"{method} {path}: add a valid body to this test"
            resp = foreign.request(method, url, json=bodies.get((method, path)))
            assert resp.status_code == 404, (method, path, resp.status_code, resp.text)
            assert resp.json()["error"]["code"] == "not_found", (method, path, resp.text)
            assert set(resp.json()["error"]) == {"code", "message", "details"}
            checked_ids.append(f"{method} {path}")
        elif method == "GET":
            # Lists: nothing of ours; with an id-like query parameter pointed at our rows, 404 (the id echoed back
            # in the message is the caller's own input) or still nothing of ours.
            if path in SAME_FOR_EVERYONE:
                resp = foreign.get(url)
                assert resp.status_code == 200 and resp.json() == api.get(url).json(), path
                assert not [v for v in ids.values() if v in resp.text], path
                checked_lists.append(path)
                continue
            params = {p["name"]: ids[p["name"]] for p in op.get("parameters", []) if p["name"] in ids}
            for query in ({}, params) if params else ({},):
                resp = foreign.get(url, params=query)
                if resp.status_code == 404 and query:
                    assert resp.json()["error"]["code"] == "not_found", (path, query, resp.text)
                    continue
                assert resp.status_code == 200, (path, query, resp.status_code, resp.text)
                leaked = [v for v in [*ids.values(), *OUR_TEXT] if v in resp.text]
                assert not leaked, (path, query, leaked, resp.text)
            checked_lists.append(path)
    assert _snapshot(database) == before, "a foreign call changed our data"

    # The checks were real: our own key sees every one of those rows.
    for path in (
        "/v1/developers",
        "/v1/repositories",
        "/v1/webhooks",
        "/v1/api-keys",
        "/v1/notifications",
        "/v1/members",
        "/v1/teams",
    ):
        assert any(v in api.get(path).text for v in ids.values()), path
    assert api.get(f"/v1/developers/{ids['developer_id']}").status_code == 200
    assert "jane@example.com" in api.get("/v1/metrics/developers").text
    assert "Markdown" in api.get("/v1/metrics/languages").text and api.get("/v1/metrics/hours").json()["commits"] == 1
    assert len(checked_ids) >= 23 and "GET /v1/events" not in checked_ids
    assert {"/v1/developers", "/v1/events", "/v1/metrics/developers", "/v1/webhooks", "/v1/teams"} <= set(checked_lists)
    assert "PUT /v1/teams/{team_id}/developers/{developer_id}" in checked_ids
    assert {"/v1/metrics/languages", "/v1/metrics/hours"} <= set(checked_lists)  # with our team, developer, repo

    # Our key cannot pull their developer into a merge either.
    merge = api.post(f"/v1/developers/{ids['developer_id']}/merge", json={"developer_id": theirs})
    assert merge.status_code == 404 and merge.json()["error"]["code"] == "not_found"
    assert foreign.get(f"/v1/developers/{theirs}").status_code == 200
    # Nor put their developer in our team, nor see our team's figures through its id.
    pull = api.put(f"/v1/teams/{ids['team_id']}/developers/{theirs}")
    assert pull.status_code == 404 and pull.json()["error"]["code"] == "not_found"
    assert foreign.get("/v1/metrics/developers", params={"team_id": ids["team_id"]}).status_code == 404
