from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, Table, func, insert, inspect, select

from gitproductivity.core import migrate
from gitproductivity.core.db import Database
from gitproductivity.models import Base
from tests.conftest import PG_ADMIN_URL

# What `core.migrate.upgrade` did before 0005_merge_heads existed: `upgrade heads` reached these two.
OLD_HEADS = ("0002_webhooks", "0004_analysis")


def test_migrations_produce_the_models_schema(database: Database) -> None:
    """The migrated database (SQLite and Postgres) has exactly the tables, columns and indexes of the models."""
    with database.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_the_revisions_have_one_head() -> None:
    """Two branches that each add a revision must be merged (`gitproductivity db merge`) before they ship."""
    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    assert len(scripts.get_heads()) == 1, f"several heads: {scripts.get_heads()} (see docs/development.md)"


def test_revision_ids_name_their_files_and_fit_the_version_table() -> None:
    """`db revision` numbers after the files' prefixes, and alembic_version.version_num is VARCHAR(32)."""
    scripts = list(ScriptDirectory.from_config(migrate.alembic_config()).walk_revisions())
    for script in scripts:
        assert script.path.endswith(f"/{script.revision}.py")
        assert re.fullmatch(r"\d{4}_[a-z0-9_]+", script.revision)
        assert len(script.revision) <= migrate.MAX_REVISION_ID


@pytest.fixture
def empty_database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all (the shared test databases are migrated already)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path}/empty.db"
        return
    request.getfixturevalue("postgres_url")  # skips (or fails in CI) like every PostgreSQL test
    name = f"gp_migrate_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def upgrade_to(db: Database, *revisions: str) -> None:
    for revision in revisions:
        cfg = migrate.alembic_config()
        with db.engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)


def put(db: Database, table: str, **values: object) -> None:
    """One row written with SQL against the table as this database has it now (an old revision's schema).

    Data made before a migration is written this way, never through the service layer: services speak today's
    schema, and an old revision lacks its columns.
    """
    with db.engine.begin() as conn:
        reflected = Table(table, MetaData(), autoload_with=conn)
        if "created_at" in reflected.c and "created_at" not in values:
            values["created_at"] = datetime(2024, 1, 2, tzinfo=UTC)
        conn.execute(insert(reflected).values(**values))


def old_tenant(db: Database, *, email: str = "owner@example.com", org: str = "org_old") -> str:
    """An organisation with its owner, written as any revision since the first had them; returns the org id."""
    put(db, "organizations", id=org, name="Old")
    put(db, "users", id=f"usr_{org}", organization_id=org, email=email, password_hash="x", role="owner")
    return org


def old_developer(db: Database, *, org: str, dev_id: str, name: str, email: str) -> None:
    put(db, "developers", id=dev_id, organization_id=org, name=name, email=email, is_bot=False)
    put(
        db,
        "developer_emails",
        id=f"dem_{dev_id}",
        organization_id=org,
        developer_id=dev_id,
        email=email,
        is_primary=True,
    )


def row_counts(db: Database) -> dict[str, int]:
    """Rows per table, for the tables this database has (a later revision may add tables)."""
    with db.engine.connect() as conn:
        present = set(inspect(conn).get_table_names())
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in Base.metadata.tables.values()
            if t.name in present
        }


def test_a_database_at_the_old_two_heads_upgrades_to_the_head_with_its_data(empty_database_url: str) -> None:
    from gitproductivity.developers import service as developers

    db = Database(empty_database_url, pool_size=1)
    try:
        upgrade_to(db, *OLD_HEADS)
        assert migrate.current_heads(db.engine) == set(OLD_HEADS)
        org = old_tenant(db)
        old_developer(db, org=org, dev_id="dev_jane", name="Jane Doe", email="jane@example.com")
        put(db, "events", id="evt_1", organization_id=org, type="developer.created", payload="{}")
        before = row_counts(db)
        assert (before["organizations"], before["developers"], before["events"]) == (1, 1, 1)

        migrate.upgrade(db.engine)

        assert migrate.current_heads(db.engine) == set(migrate.script_heads())
        assert {table: count for table, count in row_counts(db).items() if table in before} == before
        with db.session() as session:
            found = developers.find_by_email(session, organization_id=org, email="jane@example.com")
        assert found is not None and found.name == "Jane Doe"
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, Base.metadata) == []

        migrate.upgrade(db.engine)  # and again: nothing to do
        assert migrate.current_heads(db.engine) == set(migrate.script_heads())
    finally:
        db.dispose()
