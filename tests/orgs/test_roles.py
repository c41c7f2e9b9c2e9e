"""Roles, generated from the app's own OpenAPI document (like the tenant-isolation test, whose sample data and
body table it reuses).

A viewer's API key calls every mutating operation under `/v1` (POST, PUT, PATCH, DELETE) with a valid body: each
answers 403 in the one error shape, in words that name the role, and the database is unchanged afterwards. An
admin's key gets the same answer on every members and API-keys operation. A new mutating operation is checked
without further work once the tenant-isolation test knows its ids and body (and `_BODIES` below, when it has no
id in its path).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from gitproductivity.core.db import Database
from tests.conftest import Tenant
from tests.core.test_tenant_isolation import _PARAM, _bodies, _operations, _ours, _snapshot

_MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
#: Bodies for the mutating operations without an id in their path (the tenant-isolation table has the others).
_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/developers"): {"name": "Vic Viewer", "email": "vic@viewer.example"},
    ("POST", "/v1/repositories"): {"url": "/nonexistent/by-viewer"},
    ("POST", "/v1/webhooks"): {"url": "https://viewer.example/hook", "events": ["*"]},
    ("POST", "/v1/api-keys"): {"name": "by a viewer", "role": "viewer"},
    ("POST", "/v1/members"): {"email": "new@viewer.example", "role": "viewer"},
    ("POST", "/v1/teams"): {"name": "Viewer team"},
    ("POST", "/v1/me/password"): {"current_password": "x", "new_password": "a long new password"},
}
#: What a viewer may change, with the reason: only state of their own.
VIEWER_MAY = {
    ("POST", "/v1/notifications/{notification_id}/read"): "read state is each reader's own",
    ("POST", "/v1/notifications/read-all"): "read state is each reader's own",
    ("POST", "/v1/me/password"): "their own password",
}


#: Only owners manage members (every role reads the list) and API keys (not even listed for others).
def _owner_only(method: str, path: str) -> bool:
    return path.startswith("/v1/api-keys") or (path.startswith("/v1/members") and method in _MUTATING)


def _key(api: TestClient, role: str) -> dict[str, str]:
    made = api.post("/v1/api-keys", json={"name": f"{role} key", "role": role})
    assert made.status_code == 201 and made.json()["role"] == role, made.text
    return {"Authorization": f"Bearer {made.json()['key']}"}


def _refused(resp: Any, role: str, where: str) -> None:
    assert resp.status_code == 403, (where, resp.status_code, resp.text)
    error = resp.json()["error"]
    assert set(error) == {"code", "message", "details"} and error["code"] == "forbidden", (where, error)
    assert error["message"].startswith(f"your role {role} cannot "), (where, error)


def test_a_viewer_is_refused_every_change_and_an_admin_every_members_and_keys_operation(
    client: TestClient, tenant: Tenant, database: Database, git_repo: Path
) -> None:
    api = TestClient(client.app, raise_server_exceptions=False, headers=tenant.headers)
    ids = _ours(api, tenant, database, git_repo)
    bodies = {**_bodies(ids, ids["developer_id"]), **_BODIES}
    viewer = TestClient(client.app, raise_server_exceptions=False, headers=_key(api, "viewer"))
    admin = TestClient(client.app, raise_server_exceptions=False, headers=_key(api, "admin"))
    operations = _operations(client)

    before = _snapshot(database)
    refused, admin_refused = [], []
    for method, path, op in operations:
        url = _PARAM.sub(lambda m: ids[m.group(1)], path)
        needs_body = op.get("requestBody", {}).get("required", False)
        body = bodies.get((method, path))
        if method in _MUTATING and (method, path) not in VIEWER_MAY:
            assert not needs_body or body is not None, f"{method} {path}: add a valid body to this test"
            _refused(viewer.request(method, url, json=body), "viewer", f"{method} {path}")
            refused.append(f"{method} {path}")
        if _owner_only(method, path):
            _refused(admin.request(method, url, json=body), "admin", f"{method} {path}")
            admin_refused.append(f"{method} {path}")
    assert _snapshot(database) == before, "a refused call changed something"
    assert len(refused) >= 20 and len(admin_refused) == 6, (refused, admin_refused)

    # The refusals were the role's doing: the same calls go through for those allowed. A viewer reads everything
    # but the signing secret; an admin changes what admins may.
    for path in ("/v1/developers", "/v1/repositories", "/v1/webhooks", "/v1/events", "/v1/members"):
        assert viewer.get(path).status_code == 200, path
    assert viewer.get(f"/v1/webhooks/{ids['webhook_id']}/deliveries").status_code == 200
    _refused(viewer.get(f"/v1/webhooks/{ids['webhook_id']}"), "viewer", "the signing secret")
    assert "whsec_" in admin.get(f"/v1/webhooks/{ids['webhook_id']}").json()["secret"]
    made = admin.post("/v1/developers", json=_BODIES[("POST", "/v1/developers")])
    assert made.status_code == 201, made.text
    assert admin.get("/v1/members").status_code == 200
    # An owner's own call of a refused operation works (the body was valid).
    assert api.post("/v1/members", json=_BODIES[("POST", "/v1/members")]).status_code == 201


def test_a_viewer_may_mark_notices_read(client: TestClient, tenant: Tenant, database: Database) -> None:
    from gitproductivity.notifications import service as notifications

    api = TestClient(client.app, raise_server_exceptions=False, headers=tenant.headers)
    viewer = TestClient(client.app, raise_server_exceptions=False, headers=_key(api, "viewer"))
    with database.session() as session:
        note_id = notifications.create(
            session, organization_id=tenant.organization_id, kind="k", subject="s", body="b"
        ).id
    assert viewer.post(f"/v1/notifications/{note_id}/read").json()["read_at"] is not None
    # A key reads as the member who made it (here the owner): per-member read state is tests/members' business.
    assert [n["id"] for n in api.get("/v1/notifications", params={"unread": True}).json()["data"]] == []


def test_no_one_hands_out_a_role_above_their_own(database: Database, tenant: Tenant) -> None:
    import pytest

    from gitproductivity.core.errors import Forbidden
    from gitproductivity.orgs import service

    with database.session() as session:
        with pytest.raises(Forbidden, match="your role admin cannot create an API key with the role owner"):
            service.create_api_key(
                session, organization_id=tenant.organization_id, name="x", role="owner", granted_by="admin"
            )
        key, _raw = service.create_api_key(
            session, organization_id=tenant.organization_id, name="y", role="viewer", granted_by="admin"
        )
        assert key.role == "viewer"
