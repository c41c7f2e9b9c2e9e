from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Tenant


def events_of(api: TestClient, type_: str | None = None) -> list[dict[str, Any]]:
    params = {"type": type_} if type_ else {}
    resp = api.get("/v1/events", params=params)
    assert resp.status_code == 200, resp.text
    return list(resp.json()["data"])


def test_create_get_list_remove_with_events(api: TestClient) -> None:
    resp = api.post(
        "/v1/developers", json={"name": "Jane Doe", "email": "Jane@Example.com", "aliases": ["jd@old.example.com"]}
    )
    assert resp.status_code == 201, resp.text
    dev = resp.json()
    assert dev["id"].startswith("dev_") and len(dev["id"]) == 30
    assert dev["email"] == "jane@example.com"
    assert dev["aliases"] == ["jd@old.example.com"]

    assert api.get(f"/v1/developers/{dev['id']}").json()["name"] == "Jane Doe"
    listed = api.get("/v1/developers").json()
    assert [d["id"] for d in listed["data"]] == [dev["id"]]
    assert listed["has_more"] is False

    added = events_of(api, "developer.added")
    assert len(added) == 1
    assert added[0]["data"] == {"developer_id": dev["id"], "name": "Jane Doe", "email": "jane@example.com"}
    assert added[0]["id"].startswith("evt_")
    assert added[0]["created_at"].endswith("Z") and len(added[0]["created_at"]) == 20

    resp = api.delete(f"/v1/developers/{dev['id']}")
    assert resp.status_code == 200
    assert resp.json()["removed_at"] is not None
    assert api.get("/v1/developers").json()["data"] == []
    assert len(api.get("/v1/developers", params={"include_removed": True}).json()["data"]) == 1
    removed = events_of(api, "developer.removed")
    assert [e["data"]["developer_id"] for e in removed] == [dev["id"]]

    # Removing again changes nothing, so no second event.
    assert api.delete(f"/v1/developers/{dev['id']}").status_code == 200
    assert len(events_of(api, "developer.removed")) == 1


def test_readding_removed_developer_restores_it(api: TestClient) -> None:
    dev = api.post("/v1/developers", json={"name": "Sam", "email": "sam@example.com"}).json()
    api.delete(f"/v1/developers/{dev['id']}")
    again = api.post("/v1/developers", json={"name": "Sam B", "email": "SAM@example.com"})
    assert again.status_code == 201
    assert again.json()["id"] == dev["id"]
    assert again.json()["removed_at"] is None
    assert len(events_of(api, "developer.added")) == 2


def test_duplicate_email_is_409_and_changes_nothing(api: TestClient) -> None:
    api.post("/v1/developers", json={"name": "A", "email": "a@example.com", "aliases": ["alias@example.com"]})
    before = events_of(api)
    for email, aliases in (("A@example.com", []), ("b@example.com", ["alias@example.com"]), ("alias@example.com", [])):
        resp = api.post("/v1/developers", json={"name": "B", "email": email, "aliases": aliases})
        assert resp.status_code == 409, resp.text
        assert resp.json()["error"]["code"] == "conflict"
    assert len(api.get("/v1/developers").json()["data"]) == 1
    assert events_of(api) == before


def test_invalid_email_is_422_and_changes_nothing(api: TestClient) -> None:
    for body in (
        {"name": "X", "email": "not-an-email"},
        {"name": "X", "email": "x@example.com", "aliases": ["nope"]},
        {"name": "", "email": "x@example.com"},
        {"name": "X"},
        {"name": "X", "email": "x@example.com", "unexpected": 1},
    ):
        resp = api.post("/v1/developers", json=body)
        assert resp.status_code == 422, (body, resp.text)
        err = resp.json()["error"]
        assert err["code"] == "validation_error"
        assert err["message"]
    assert api.get("/v1/developers").json()["data"] == []
    assert events_of(api) == []


def test_pagination_is_keyset_and_complete(api: TestClient) -> None:
    ids = [
        api.post("/v1/developers", json={"name": f"D{i}", "email": f"d{i}@example.com"}).json()["id"] for i in range(7)
    ]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 3}
        if cursor:
            params["after"] = cursor
        page = api.get("/v1/developers", params=params).json()
        seen += [d["id"] for d in page["data"]]
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        cursor = page["next_cursor"]
    assert seen == sorted(ids) == ids


def test_other_organisation_ids_are_404(api: TestClient, other_tenant: Tenant) -> None:
    dev = api.post("/v1/developers", json={"name": "Mine", "email": "mine@example.com"}).json()
    other = {"Authorization": f"Bearer {other_tenant.api_key}"}
    assert api.get(f"/v1/developers/{dev['id']}", headers=other).status_code == 404
    assert api.delete(f"/v1/developers/{dev['id']}", headers=other).status_code == 404
    assert api.get("/v1/developers", headers=other).json()["data"] == []
    assert api.get("/v1/events", headers=other).json()["data"] == []
    # The same email may exist in another organisation.
    resp = api.post("/v1/developers", json={"name": "Theirs", "email": "mine@example.com"}, headers=other)
    assert resp.status_code == 201
    assert api.get(f"/v1/developers/{dev['id']}").json()["removed_at"] is None


def test_unknown_developer_is_404(api: TestClient) -> None:
    resp = api.get("/v1/developers/dev_doesnotexist")
    assert resp.status_code == 404
    assert resp.json()["error"] == {
        "code": "not_found",
        "message": "developer dev_doesnotexist not found",
        "details": None,
    }
