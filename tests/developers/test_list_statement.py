"""The default developer list (by id, no search) is one statement: the total, the page and every developer's
aliases together (docs/benchmarks.md, "Fourth pass"). It must give exactly what the general list code gives
(sorted, searched, within a set: separate statements), page by page, and what the API answered before."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from gitproductivity.core.db import Database
from gitproductivity.core.pagination import Sort, sort_cursor
from gitproductivity.developers import lists
from gitproductivity.developers.models import Developer
from tests.conftest import Tenant


def _pages(database: Database, organization_id: str, limit: int, include_removed: bool, general: bool) -> list[Any]:
    """Every page, following next cursors; `general` takes the general code path (`within` every developer)."""
    within = select(Developer.id) if general else None
    pages = []
    after = None
    while True:
        with database.session() as session:
            page = lists.list_window(
                session,
                organization_id=organization_id,
                after=after,
                limit=limit,
                include_removed=include_removed,
                within=within,
            )
        pages.append(page)
        after = page[2]
        if after is None:
            return pages


def test_the_one_statement_gives_what_the_general_code_gives(
    api: TestClient, database: Database, tenant: Tenant
) -> None:
    made = []
    for i in range(7):
        aliases = [f"z{i}@old.example", f"a{i}@old.example", f"m{i}@old.example"][: i % 4]
        body = {"name": f"D{i}", "email": f"d{i}@example.com", "aliases": aliases}
        made.append(api.post("/v1/developers", json=body).json())
    assert api.delete(f"/v1/developers/{made[2]['id']}").status_code == 200
    for include_removed in (False, True):
        for limit in (1, 2, 3, 6, 7, 50):
            fast = _pages(database, tenant.organization_id, limit, include_removed, general=False)
            assert fast == _pages(database, tenant.organization_id, limit, include_removed, general=True)
            rows = [row for page in fast for row in page[0]]
            assert len(rows) == (7 if include_removed else 6) == fast[0][1]
            assert {row["id"]: row["aliases"] for row in rows} == {
                dev["id"]: sorted(dev["aliases"]) for dev in made if include_removed or dev is not made[2]
            }


def test_the_pages_bytes_and_a_page_past_the_end(api: TestClient) -> None:
    """The exact bytes (fields in the model's order, compact); past the last row the page is empty, with the total."""
    made = [
        api.post("/v1/developers", json={"name": f"D{i}", "email": f"d{i}@example.com", "aliases": [f"o{i}@x.example"]})
        for i in range(2)
    ]
    devs = [resp.json() for resp in made]
    first = api.get("/v1/developers", params={"limit": 1})
    cursor = sort_cursor(Sort(field="id", descending=False), [devs[0]["id"]])
    page = {"data": devs[:1], "has_more": True, "next_cursor": cursor, "total": 2, "previous_cursor": None}
    assert first.content == json.dumps(page, separators=(",", ":")).encode()
    second = api.get("/v1/developers", params={"limit": 1, "after": cursor})
    before = sort_cursor(Sort(field="id", descending=False), [devs[1]["id"]])
    page = {"data": devs[1:], "has_more": False, "next_cursor": None, "total": 2, "previous_cursor": before}
    assert second.content == json.dumps(page, separators=(",", ":")).encode()
    past = api.get("/v1/developers", params={"after": before})
    assert past.json() == {"data": [], "has_more": False, "next_cursor": None, "total": 2, "previous_cursor": None}
