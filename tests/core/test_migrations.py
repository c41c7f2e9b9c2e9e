from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from gitproductivity.core.db import Database
from gitproductivity.models import Base


def test_migrations_produce_the_models_schema(database: Database) -> None:
    """The migrated database (SQLite and Postgres) has exactly the tables, columns and indexes of the models."""
    with database.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []
