"""`gitproductivity db ...`: the schema migrations."""

from __future__ import annotations

import typer

from gitproductivity.cli._common import console, ensure_schema
from gitproductivity.core import migrate
from gitproductivity.core.db import get_database

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade() -> None:
    """Apply any pending migrations."""
    ensure_schema()
    heads = migrate.current_heads(get_database().engine)
    console.print(f"database is up to date ({', '.join(sorted(heads))})")
