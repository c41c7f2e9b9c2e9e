"""Thousands of developers for the API benchmarks (`api.py --developers N`, `api_profile.py --developers N`).

`seed_developers(url, n)` adds, in bulk with plain SQL, `n` developers (each with its primary e-mail row, as the
service writes them) to the organisation of the benchmark's API key, and as many rows to the minimal app's table
of `benchmarks/api.py` when it exists: both sides read a page out of the same number of rows. The rows are
written as a bulk path would (the database's own triggers, if any, see them as any other insert); on PostgreSQL
the database is then vacuumed and analysed (what autovacuum does within a minute: one transaction of thousands of
inserts leaves dead versions of the `developer_counts` rows behind).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import MetaData, Table, create_engine, insert, inspect, text

from gitproductivity.core.ids import new_id
from gitproductivity.developers.models import Developer, DeveloperEmail

CHUNK = 1000


def seed_developers(url: str, n: int) -> None:
    if url.startswith("postgresql://"):
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            org = conn.execute(text("SELECT organization_id FROM api_keys ORDER BY created_at LIMIT 1")).scalar_one()
            minimal = None
            if "bench_minimal_items" in inspect(conn).get_table_names():
                minimal = Table("bench_minimal_items", MetaData(), autoload_with=conn)
            now = datetime.now(UTC)
            for start in range(0, n, CHUNK):
                developers, emails, items = [], [], []
                for i in range(start, min(n, start + CHUNK)):
                    dev, email, name = new_id("dev"), f"bulk-{i}-{uuid.uuid4().hex[:12]}@example.com", f"Bulk {i}"
                    row = {"organization_id": org, "name": name, "email": email, "created_at": now}
                    developers.append({**row, "id": dev, "is_bot": False, "removed_at": None})
                    emails.append(
                        {
                            "id": new_id("dem"),
                            "organization_id": org,
                            "developer_id": dev,
                            "email": email,
                            "is_primary": True,
                        }
                    )
                    items.append({**row, "id": uuid.uuid4().hex})
                conn.execute(insert(Developer.__table__), developers)
                conn.execute(insert(DeveloperEmail.__table__), emails)
                if minimal is not None:
                    conn.execute(insert(minimal), items)
        if engine.dialect.name == "postgresql":  # vacuumed and analysed, as autovacuum would leave them soon after
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
    finally:
        engine.dispose()
