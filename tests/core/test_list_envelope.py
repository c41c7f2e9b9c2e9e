"""One shape for every list: `{"data": [...], "has_more", "next_cursor"}`, paged with `limit` and `after`.

The whole OpenAPI document is walked: every GET whose path does not end in a path parameter and whose answer
holds an array is a list, and must declare the envelope and accept `limit` and `after`. Then every such list is
called for real, a page of one at a time, and its pages are followed to the end.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from gitproductivity.app import create_app
from gitproductivity.core.db import Database
from gitproductivity.notifications import service as notifications
from tests.analysis.gitrepo import Repo, drain, lines
from tests.conftest import Tenant

_PARAM = re.compile(r"\{(\w+)\}")

#: GETs whose answer holds an array but that are one thing, not a list of things (each with the reason).
NOT_LISTS = {
    "/v1/developers/{developer_id}/metrics": "one developer's series: totals and the buckets of one date range",
    "/v1/repositories/{repository_id}/ownership": "one directory: its owners and its immediate subdirectories",
    "/v1/metrics/hours": "one figure: the 168 counts of the hours of a week",
    "/v1/metrics/languages": "one figure: lines per language, at most the ~70 languages of the table and Other",
}


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = doc["components"]["schemas"][name]
    return schema


def _answer_schema(doc: dict[str, Any], op: dict[str, Any]) -> dict[str, Any]:
    content = op["responses"].get("200", {}).get("content", {}).get("application/json", {})
    return _resolve(doc, content.get("schema", {}))


def _holds_array(doc: dict[str, Any], schema: dict[str, Any]) -> bool:
    if schema.get("type") == "array":
        return True
    return any(_resolve(doc, p).get("type") == "array" for p in schema.get("properties", {}).values())


def list_operations(doc: dict[str, Any]) -> list[str]:
    """Paths of the GETs that return a collection (not ending in a path parameter, answer holding an array)."""
    found = []
    for path, ops in doc["paths"].items():
        op = ops.get("get")
        if op is None or path.rstrip("/").endswith("}") or path in NOT_LISTS:
            continue
        if _holds_array(doc, _answer_schema(doc, op)):
            found.append(path)
    return found


def envelope_problems(doc: dict[str, Any], path: str) -> list[str]:
    op = doc["paths"][path]["get"]
    schema = _answer_schema(doc, op)
    props = schema.get("properties", {})
    problems = []
    if schema.get("type") != "object":
        problems.append(f"answers a bare {schema.get('type')}, not the list envelope")
    if _resolve(doc, props.get("data", {})).get("type") != "array":
        problems.append("no `data` array")
    if props.get("has_more", {}).get("type") != "boolean":
        problems.append("no `has_more` boolean")
    cursor_types = {t.get("type") for t in props.get("next_cursor", {}).get("anyOf", [])}
    if cursor_types != {"string", "null"}:
        problems.append("no `next_cursor` string or null")
    missing = {"data", "has_more", "next_cursor"} - set(schema.get("required", []))
    if missing:
        problems.append(f"not required: {sorted(missing)}")
    query = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "query"}
    if query.get("limit", {}).get("schema", {}).get("type") != "integer":
        problems.append("no integer `limit` query parameter")
    if "after" not in query:
        problems.append("no `after` cursor query parameter")
    return problems


def test_every_list_in_the_openapi_document_declares_the_envelope_and_limit() -> None:
    doc = create_app().openapi()
    lists = list_operations(doc)
    # The walk found the lists (a broken walk would find none and pass).
    assert {"/v1/api-keys", "/v1/developers", "/v1/events", "/v1/metrics/developers", "/v1/event-types"} <= set(lists)
    assert {"/v1/teams", "/v1/teams/{team_id}/developers"} <= set(lists)
    problems = {path: p for path in lists if (p := envelope_problems(doc, path))}
    assert problems == {}, f"lists without the envelope: {problems}"
    for path in NOT_LISTS:  # the exceptions still exist and are still not lists
        assert path in doc["paths"] and envelope_problems(doc, path), path


def _walk(api: TestClient, url: str, params: dict[str, str]) -> list[Any]:
    """Every item of a list, one page of one at a time; checks the envelope of each answer."""
    items: list[Any] = []
    query: dict[str, str] = {**params, "limit": "1"}
    for _ in range(200):
        resp = api.get(url, params=query)
        assert resp.status_code == 200, (url, resp.text)
        body = resp.json()
        assert {"data", "has_more", "next_cursor"} <= set(body), (url, body)
        assert isinstance(body["data"], list) and len(body["data"]) <= 1, (url, body)
        assert isinstance(body["has_more"], bool), (url, body)
        items.extend(body["data"])
        if not body["has_more"]:
            return items
        assert isinstance(body["next_cursor"], str) and body["next_cursor"], (url, body)
        query = {**params, "limit": "1", "after": body["next_cursor"]}
    raise AssertionError(f"{url}: more than 200 pages of one")


def test_every_list_answers_the_envelope_and_pages_to_the_end(
    api: TestClient, database: Database, tenant: Tenant, tmp_path: Path
) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit("Ann <ann@example.com>", "2026-01-05T10:00:00Z", {"a.txt": lines(3)})
    repo.commit("Bob <bob@example.com>", "2026-01-06T10:00:00Z", {"b.txt": lines(2)})
    repo.commit("Ann <ann@example.com>", "2026-01-07T10:00:00Z", {"c.txt": lines(1)})
    repo.commit("Cid <cid@example.com>", "2026-01-08T10:00:00Z", {"d.txt": lines(1)})
    repo_id = api.post("/v1/repositories", json={"url": str(repo.path)}).json()["id"]
    assert drain() == ["succeeded"]
    api.post(f"/v1/repositories/{repo_id}/analyses", json={})
    assert drain() == ["succeeded"]
    keys = {api.post("/v1/api-keys", json={"name": f"k{n}"}).json()["id"] for n in range(2)}
    # A name that never resolves (RFC 6761 .invalid): the tests fail without a connection.
    hooks = [
        api.post("/v1/webhooks", json={"url": f"http://hooks.invalid:9/{n}", "events": ["*"]}).json() for n in (1, 2)
    ]
    api.post(f"/v1/webhooks/{hooks[0]['id']}/test")
    assert [h["test"]["ok"] for h in hooks] == [False, False]
    with database.session() as session:
        for n in range(2):
            notifications.create(
                session, organization_id=tenant.organization_id, kind="note", subject=f"n{n}", body="b", subject_id=None
            )
    team = api.post("/v1/teams", json={"name": "Core"}).json()
    api.post("/v1/teams", json={"name": "Docs"})
    for dev in api.get("/v1/developers").json()["data"][:2]:
        assert api.put(f"/v1/teams/{team['id']}/developers/{dev['id']}").status_code == 204
    ids = {"webhook_id": hooks[0]["id"], "repository_id": repo_id, "team_id": team["id"]}

    walked: dict[str, list[Any]] = {}
    for path in list_operations(api.get("/openapi.json").json()):
        url = _PARAM.sub(lambda m: ids[m.group(1)], path)
        walked[path] = _walk(api, url, {})

    def ids_of(path: str, field: str = "id") -> list[str]:
        return [item[field] for item in walked[path]]

    # Every page was followed to the end, with nothing repeated or skipped.
    assert keys < set(ids_of("/v1/api-keys")) and len(ids_of("/v1/api-keys")) == 3
    assert len(ids_of("/v1/webhooks")) == 2 and len(ids_of("/v1/webhooks/{webhook_id}/deliveries")) == 2
    assert len(ids_of("/v1/repositories/{repository_id}/analyses")) == 2
    assert [m["name"] for m in walked["/v1/metrics/developers"]] == ["Ann", "Bob", "Cid"]  # most commits first
    assert len(ids_of("/v1/developers")) == 3 and len(ids_of("/v1/notifications")) == 2
    assert [t["name"] for t in walked["/v1/teams"]] == ["Core", "Docs"]
    assert len(ids_of("/v1/teams/{team_id}/developers")) == 2
    types = ids_of("/v1/event-types", "type")
    assert types[-1] == "webhook.test" and len(types) == len(set(types)) > 5
    events = ids_of("/v1/events")
    assert len(events) == len(set(events)) == len(api.get("/v1/events", params={"limit": 500}).json()["data"])
    for path, items in walked.items():
        assert items, f"{path}: the test made nothing to list"

    # A cursor that is not one is a 422 in words, never a 500.
    for path in ("/v1/metrics/developers", "/v1/event-types", "/v1/developers", "/v1/teams"):
        bad = api.get(path, params={"after": "not-a-cursor"})
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error", (path, bad.text)
