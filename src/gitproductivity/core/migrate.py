"""Apply the Alembic migrations shipped inside the package (so an installed package can migrate itself)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

import gitproductivity

MIGRATIONS = Path(gitproductivity.__file__).parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the database to the head. Databases at the old two heads (0002, 0004) reach it through 0005's merge.

    The revisions form one line (docs/development.md): `head` fails loudly if two branches each added a revision
    and nobody merged them, instead of applying them in an order nobody reviewed."""
    cfg = alembic_config()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def current_heads(engine: Engine) -> set[str]:
    """The revisions the database is at (empty when it was never migrated)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


def script_heads() -> list[str]:
    """The head revisions of the migration scripts; exactly one unless two branches have not been merged."""
    return sorted(ScriptDirectory.from_config(alembic_config()).get_heads())
