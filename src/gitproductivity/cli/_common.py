"""What every command group shares: the consoles, the common options, the database and organisation it works on,
output as JSON or a table, the progress bar, and the one place where errors become a line instead of a traceback."""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

import typer
from alembic.util import CommandError
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from gitproductivity.core import migrate
from gitproductivity.core.db import get_database
from gitproductivity.core.errors import DomainError
from gitproductivity.core.settings import get_settings

console = Console()
err = Console(stderr=True, soft_wrap=True)

OrgOption = Annotated[
    str | None,
    typer.Option("--org", envvar="GITPRODUCTIVITY_ORG", help="Organisation id (needed only when there are several)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

T = TypeVar("T")


class CliError(Exception):
    """A problem to report in one line, without a traceback."""


def setup_logging() -> None:
    logging.basicConfig(
        level=get_settings().log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


# --- database and organisation ----------------------------------------------------------------------------


def ensure_schema() -> None:
    migrate.upgrade(get_database().engine)


@contextmanager
def session_scope() -> Iterator[Session]:
    with get_database().session() as session:
        yield session


def resolve_org(session: Session, org: str | None) -> str:
    from gitproductivity.orgs.models import Organization

    if org:
        if session.get(Organization, org) is None:
            raise CliError(f"organisation {org} not found")
        return org
    ids = list(session.scalars(select(Organization.id).limit(2)))
    if not ids:
        raise CliError("no organisation yet: run `gitproductivity init --email you@example.com` first")
    if len(ids) > 1:
        raise CliError("there are several organisations: pass --org ORG_ID (or set GITPRODUCTIVITY_ORG)")
    return ids[0]


def in_org(org: str | None, work: Callable[[Session, str], T]) -> T:
    """Run `work(session, organization_id)` in one transaction, after making sure the schema is current."""
    ensure_schema()
    with session_scope() as session:
        return work(session, resolve_org(session, org))


def safe_db_label() -> str:
    """The configured database's URL without its password, for people to read."""
    from sqlalchemy import make_url

    return make_url(get_database().url).render_as_string(hide_password=True)


# --- output ---------------------------------------------------------------------------------------------------


def print_json(value: Any) -> None:
    console.print_json(json.dumps(value, default=str))


def print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(title=title, show_lines=False)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*["" if v is None else str(v) for v in row])
    console.print(table)


@contextmanager
def progress_bar(label: str, unit: str, *, disable: bool = False) -> Iterator[Callable[[int, int], None]]:
    """A bar on stderr (stdout stays clean for --json); yields `on_progress(done, total)` with a rate per second."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn(f"[bold]{label}[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, disable=disable, transient=False) as progress:
        task = progress.add_task(label, total=None, rate="")
        started = time.monotonic()

        def on_progress(done: int, total: int) -> None:
            elapsed = max(time.monotonic() - started, 1e-6)
            progress.update(task, completed=done, total=total or None, rate=f"{done / elapsed:,.0f}/s")

        yield on_progress


# --- errors -----------------------------------------------------------------------------------------------------


def run(app: typer.Typer) -> None:
    """Run `app`: domain, configuration, database and migration errors become one line on stderr, never a traceback."""
    try:
        app()
    except CliError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        sys.exit(1)
    except DomainError as exc:
        err.print(f"[red]error:[/red] {escape(exc.message)}", highlight=False)
        sys.exit(1)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        err.print(f"[red]error:[/red] invalid configuration: GITPRODUCTIVITY_{where.upper()}: {first['msg']}")
        sys.exit(2)
    except OperationalError as exc:
        err.print(f"[red]error:[/red] cannot use the database ({safe_db_error(exc)})", highlight=False)
        sys.exit(1)
    except CommandError as exc:  # Alembic: several heads, an unknown revision, a database not up to date
        err.print(f"[red]error:[/red] {_first_line(str(exc))}", highlight=False)
        sys.exit(1)


def safe_db_error(exc: OperationalError) -> str:
    text = str(exc.orig) if exc.orig is not None else str(exc)
    return _first_line(text) or type(exc).__name__


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def finite(value: float | None) -> float | None:
    """A typer callback for float options: click's ranges let `nan` through (every comparison with it is false)."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter("must be a finite number")
    return value
