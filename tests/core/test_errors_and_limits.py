from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient
from httpx2 import Response

from tests.conftest import Tenant


def assert_error_shape(resp: Response, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return dict(body["error"])


def test_missing_and_invalid_api_keys_are_401(client: TestClient, tenant: Tenant) -> None:
    assert_error_shape(client.get("/v1/developers"), 401, "unauthorized")
    resp = client.get("/v1/developers", headers={"Authorization": "Bearer gpk_nope"})
    assert_error_shape(resp, 401, "unauthorized")
    assert resp.headers["www-authenticate"] == "Bearer"
    resp = client.get("/v1/developers", headers={"Authorization": "Basic abc"})
    assert_error_shape(resp, 401, "unauthorized")
    assert client.get("/v1/developers", headers=tenant.headers).status_code == 200


def test_revoked_key_is_401_and_other_keys_keep_working(client: TestClient, tenant: Tenant) -> None:
    created = client.post("/v1/api-keys", json={"name": "ci"}, headers=tenant.headers)
    assert created.status_code == 201
    new_key = created.json()["key"]
    assert new_key.startswith("gpk_")
    listed = client.get("/v1/api-keys", headers=tenant.headers).json()["data"]
    assert len(listed) == 2 and all("key" not in k for k in listed)  # shown once only
    assert new_key not in str(listed)
    headers = {"Authorization": f"Bearer {new_key}"}
    assert client.get("/v1/developers", headers=headers).status_code == 200
    assert client.delete(f"/v1/api-keys/{created.json()['id']}", headers=tenant.headers).status_code == 200
    assert_error_shape(client.get("/v1/developers", headers=headers), 401, "unauthorized")
    assert client.get("/v1/developers", headers=tenant.headers).status_code == 200


def test_malformed_json_is_400(api: TestClient) -> None:
    resp = api.post("/v1/developers", content=b'{"name": "x", "email": ', headers={"Content-Type": "application/json"})
    err = assert_error_shape(resp, 400, "invalid_json")
    assert "JSON" in err["message"]
    assert api.get("/v1/events").json()["data"] == []


def test_oversized_body_is_413(api: TestClient) -> None:
    big = {"name": "x" * 2_000_000, "email": "big@example.com"}
    assert_error_shape(api.post("/v1/developers", json=big), 413, "payload_too_large")

    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(30):
            yield b"x" * 65536
        yield b'", "email": "big@example.com"}'

    # Without a Content-Length header (chunked), the limit still holds.
    resp = api.post("/v1/developers", content=chunks(), headers={"Content-Type": "application/json"})
    assert_error_shape(resp, 413, "payload_too_large")
    assert api.get("/v1/developers").json()["data"] == []


def test_unknown_route_and_method_use_the_error_shape(api: TestClient) -> None:
    assert_error_shape(api.get("/v1/nothing-here"), 404, "not_found")
    assert_error_shape(api.put("/v1/developers"), 405, "method_not_allowed")


def test_validation_of_query_parameters(api: TestClient) -> None:
    err = assert_error_shape(api.get("/v1/developers", params={"limit": 0}), 422, "validation_error")
    assert err["details"][0]["field"] == "limit"


def test_healthz_openapi_and_docs(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    spec = client.get("/openapi.json").json()
    for path in ("/v1/developers", "/v1/developers/{developer_id}", "/v1/repositories", "/v1/events"):
        assert path in spec["paths"]
    assert "ErrorBody" in spec["components"]["schemas"]
    assert "swagger" in client.get("/docs").text.lower()


def test_nul_characters_are_a_clear_error_on_every_backend(api: TestClient) -> None:
    """PostgreSQL cannot store NUL in text: a 4xx in the error shape on every backend, never a 500, nothing stored."""
    answers = [
        api.get("/v1/repositories", params={"after": "\x00"}),
        api.get("/v1/developers/dev_%00"),
        api.post("/v1/developers", json={"name": "Nul\x00Name", "email": "nul@example.com"}),
    ]
    assert [(r.status_code, r.json()["error"]["code"]) for r in answers] == [
        (422, "validation_error"),
        (404, "not_found"),
        (422, "validation_error"),
    ]
    assert "a NUL character" in answers[0].json()["error"]["message"]
    assert answers[2].json()["error"]["details"] == [
        {"field": "name", "message": "This field must not contain control characters (a NUL character)."}
    ]
    assert api.get("/v1/developers").json()["data"] == []  # refused whole, on SQLite too


def test_database_errors_never_carry_bound_values(database) -> None:  # type: ignore[no-untyped-def]
    """Logged database errors must not quote the values of a statement (they may be secrets)."""
    import pytest
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    with pytest.raises(DBAPIError) as info, database.engine.connect() as conn:
        conn.execute(text("SELECT * FROM no_such_table WHERE x = :secret"), {"secret": "whsec_TOPSECRET"})
    assert "TOPSECRET" not in str(info.value)


def test_malformed_path_ids_are_404_on_every_operation(api: TestClient) -> None:
    """One rule for every id in a path (core.http.PathId), generated from the OpenAPI document."""
    import re

    spec = api.get("/openapi.json").json()
    checked = 0
    for path, item in spec["paths"].items():
        names = re.findall(r"{([^}]+_id)}", path)
        if not names:
            continue
        for method in item:
            for bad in ("dev_%00", "no-underscore", "x_" + "a" * 80, "wh_a%2Fb", "%C3%A9t%C3%A9_1"):
                url = path
                for name in names:
                    url = url.replace("{" + name + "}", bad)
                url = re.sub(r"{[^}]+}", "a@example.com", url)  # the alias email in one path
                resp = api.request(method.upper(), url, json={})
                assert resp.status_code == 404, (method, url, resp.text)
                assert resp.json()["error"]["code"] == "not_found"
            checked += 1
    assert checked >= 23
