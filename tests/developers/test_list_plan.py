"""The default developer list reads a page's worth of developers, not the whole organisation, also before the
planner has statistics for a team that has just grown by thousands (migration 0020_developers_current_index).

Without the partial index, PostgreSQL estimated `removed_at IS NULL` at 0.5 % of an unanalysed table's rows and
read every developer of the organisation by a bitmap scan, then sorted them (3.3 ms a page at 10,000)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import insert

from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import Database
from gitproductivity.core.ids import new_id
from gitproductivity.developers import lists
from gitproductivity.developers.models import Developer
from tests.conftest import Tenant

MANY = 5000


def _rows_read_from_developers(plan: dict[str, Any]) -> int:
    """Rows the plan's scans of `developers` produced (actual rows times loops), over the whole tree."""
    own = plan["Actual Rows"] * plan["Actual Loops"] if plan.get("Relation Name") == "developers" else 0
    return own + sum(_rows_read_from_developers(child) for child in plan.get("Plans", ()))


def test_the_default_page_reads_a_page_of_developers_before_any_analyze(database: Database, tenant: Tenant) -> None:
    if database.is_sqlite:
        pytest.skip("PostgreSQL's planner: SQLite's plan is checked by the page tests (it has no row estimates)")
    now = utcnow()
    rows = [
        {"id": new_id("dev"), "organization_id": tenant.organization_id, "name": f"d{i}", "email": f"d{i}@example.com"}
        for i in range(MANY)
    ]
    with database.session() as session:
        session.execute(
            insert(Developer), [{**r, "is_bot": False, "created_at": now, "removed_at": None} for r in rows]
        )
    statement = lists._BY_ID[False, False, True]
    with database.engine.connect() as conn:
        compiled = statement.compile(dialect=conn.dialect)
        params = {**compiled.params, "organization_id": tenant.organization_id, "limit": 51}
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + str(compiled), params)
        explained = cursor.fetchone()
    assert explained is not None
    found = explained[0]
    plan = (found if isinstance(found, list) else json.loads(found))[0]["Plan"]
    assert _rows_read_from_developers(plan) <= 2 * 51, json.dumps(plan, indent=1)
