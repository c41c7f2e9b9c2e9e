"""`gitproductivity db ...`: apply, inspect and author the schema migrations (docs/development.md)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from gitproductivity.cli._common import CliError, console, ensure_schema, err
from gitproductivity.core import migrate
from gitproductivity.core.db import get_database

app = typer.Typer(help="Database schema.", no_args_is_help=True)

DirectoryOption = Annotated[
    Path | None,
    typer.Option(
        "--directory",
        help="The migrations directory, holding env.py and versions/ (default: the package's own).",
        show_default=False,
    ),
]
MessageOption = Annotated[str, typer.Option("-m", "--message", help="What the revision does (also names its file).")]


@app.command("upgrade")
def db_upgrade() -> None:
    """Apply any pending migrations."""
    ensure_schema()
    heads = migrate.current_heads(get_database().engine)
    console.print(f"database is up to date ({', '.join(sorted(heads))})")


@app.command("current")
def db_current() -> None:
    """Print the revision the configured database is at."""
    at = sorted(migrate.current_heads(get_database().engine))
    if not at:
        err.print("the database has no schema yet: run `gitproductivity db upgrade`", highlight=False)
        return
    heads, known = set(migrate.script_heads()), migrate.known_revisions()
    for revision in at:
        if revision in heads:
            note = "head"
        elif revision in known:
            note = "migrations pending: run `gitproductivity db upgrade`"
        else:
            note = "not one of this version's migrations"
        print(f"{revision} ({note})")


@app.command("heads")
def db_heads(directory: DirectoryOption = None) -> None:
    """Print the newest revision of the migrations (one, unless two branches' revisions await a merge)."""
    for head in migrate.script_heads(_migrations(directory)):
        print(head)


@app.command("revision")
def db_revision(
    message: MessageOption,
    autogenerate: Annotated[
        bool,
        typer.Option(
            "--autogenerate",
            help="Fill in the operations from the models' difference to the configured database (at the head).",
        ),
    ] = False,
    directory: DirectoryOption = None,
) -> None:
    """Write a new revision on top of the head, numbered after the newest file; review it before committing."""
    target = _authoring(directory)
    url = None
    if autogenerate:
        database = get_database()
        at, heads = sorted(migrate.current_heads(database.engine)), migrate.script_heads(target)
        if at != heads:
            raise CliError(
                f"the database is at {', '.join(at) or 'no revision'}, not at the head {', '.join(heads)}: "
                "run `gitproductivity db upgrade` first (autogenerate compares the models with the head's schema)"
            )
        url = database.url
    with _detected_changes() as detected:
        path = migrate.revision(message, autogenerate=autogenerate, url=url, directory=target)
    console.print(f"wrote {path}", highlight=False)
    for line in detected:
        err.print(f"  {line}", highlight=False)
    if autogenerate and not any(line.startswith("Detected") for line in detected):
        err.print("  no difference between the models and the database: upgrade() is empty", highlight=False)


@app.command("merge")
def db_merge(message: MessageOption = "merge heads", directory: DirectoryOption = None) -> None:
    """Write an empty revision on top of every head, so there is one head again."""
    path = migrate.merge(message, directory=_authoring(directory))
    console.print(f"wrote {path}", highlight=False)


def _migrations(directory: Path | None) -> Path:
    if directory is None:
        return migrate.MIGRATIONS
    if not (directory / "env.py").is_file() or not (directory / "versions").is_dir():
        raise CliError(f"{directory} is not a migrations directory (it needs env.py and versions/)")
    return directory


def _authoring(directory: Path | None) -> Path:
    """New revisions belong in a checkout; one written into an installed package would be lost at its next upgrade."""
    target = _migrations(directory)
    if directory is None and not (target.parents[2] / "pyproject.toml").is_file():
        raise CliError(
            f"{target} belongs to an installed package: write revisions in a checkout (`pip install -e .`) "
            "or pass --directory"
        )
    return target


@contextmanager
def _detected_changes() -> Iterator[list[str]]:
    """Collect what autogenerate noticed ("Detected added index ..."), which it only logs, for the author's review."""
    detected: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            detected.append(record.getMessage().strip())

    logger = logging.getLogger("alembic.autogenerate.compare")
    handler, level, propagate = Collect(logging.INFO), logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield detected
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
