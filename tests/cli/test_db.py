"""`gitproductivity db ...`, run as real subprocesses. New revisions are written into a copy of the migrations."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from gitproductivity.core import migrate
from gitproductivity.core.db import Database
from tests.core.test_migrations import OLD_HEADS, upgrade_to
from tests.test_cli import run

pytestmark = pytest.mark.slow  # real subprocesses

HEAD = migrate.script_heads()[0]


@pytest.fixture
def migrations_copy(tmp_path: Path) -> Path:
    """The package's migrations, copied: `--directory` points `db revision` here instead of into the checkout."""
    target = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def one_line_error(proc: subprocess.CompletedProcess[str], message: str) -> None:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_heads_prints_the_one_head(tmp_path: Path) -> None:
    out = run(f"sqlite:///{tmp_path}/unused.db", "db", "heads").stdout
    assert out.splitlines() == [HEAD] == migrate.script_heads()


def test_current_prints_the_head_of_a_migrated_database(database: Database, database_url: str) -> None:
    assert run(database_url, "db", "current").stdout.splitlines() == [f"{HEAD} (head)"]


def test_current_of_an_empty_database_says_how_to_migrate_it(tmp_path: Path) -> None:
    proc = run(f"sqlite:///{tmp_path}/empty.db", "db", "current")
    assert proc.stdout == ""
    assert "gitproductivity db upgrade" in proc.stderr


def test_a_database_at_the_old_two_heads_is_pending_until_upgraded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    db = Database(url, pool_size=1)
    upgrade_to(db, *OLD_HEADS)
    db.dispose()
    assert run(url, "db", "current").stdout.splitlines() == [
        f"{revision} (migrations pending: run `gitproductivity db upgrade`)" for revision in OLD_HEADS
    ]
    assert run(url, "db", "upgrade").stdout.strip() == f"database is up to date ({HEAD})"
    assert run(url, "db", "current").stdout.splitlines() == [f"{HEAD} (head)"]


def test_an_unreachable_database_is_one_line() -> None:
    url = "postgresql://postgres@127.0.0.1:1/nowhere"
    one_line_error(run(url, "db", "current", check=False), "cannot use the database")
    one_line_error(run(url, "db", "upgrade", check=False), "cannot use the database")


def test_revision_writes_the_next_number_on_top_of_the_head(tmp_path: Path, migrations_copy: Path) -> None:
    url = f"sqlite:///{tmp_path}/unused.db"
    in_checkout = sorted(p.name for p in (migrate.MIGRATIONS / "versions").glob("*.py"))
    number = max(int(name[:4]) for name in in_checkout) + 1

    out = run(url, "db", "revision", "-m", "Add teams (and members)!", "--directory", str(migrations_copy)).stdout
    written = migrations_copy / "versions" / f"{number:04d}_add_teams_and_members.py"
    assert out.strip() == f"wrote {written}"
    text = written.read_text()
    assert f'revision: str = "{number:04d}_add_teams_and_members"' in text
    assert f'down_revision: str | Sequence[str] | None = "{HEAD}"' in text
    assert '"""Add teams (and members)!' in text
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", str(written)],
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout  # unused imports of the template are removed
    assert run(url, "db", "heads", "--directory", str(migrations_copy)).stdout.split() == [written.stem]
    assert sorted(p.name for p in (migrate.MIGRATIONS / "versions").glob("*.py")) == in_checkout

    # A second branch adds a revision on the same head: two heads, which `db merge` joins again.
    other = written.with_name(f"{number:04d}_other_branch.py")
    other.write_text(text.replace(written.stem, other.stem))
    assert run(url, "db", "heads", "--directory", str(migrations_copy)).stdout.split() == sorted(
        [written.stem, other.stem]
    )
    refused = run(url, "db", "revision", "-m", "more", "--directory", str(migrations_copy), check=False)
    one_line_error(refused, "several heads")
    merged = run(url, "db", "merge", "--directory", str(migrations_copy)).stdout
    merge_id = f"{number + 1:04d}_merge_heads"
    assert merge_id in merged
    assert run(url, "db", "heads", "--directory", str(migrations_copy)).stdout.split() == [merge_id]


def test_revision_autogenerate_finds_nothing_on_a_database_at_head(
    database: Database, database_url: str, migrations_copy: Path
) -> None:
    proc = run(database_url, "db", "revision", "-m", "nothing", "--autogenerate", "--directory", str(migrations_copy))
    assert "no difference between the models and the database" in proc.stderr
    (written,) = (migrations_copy / "versions").glob("*_nothing.py")
    upgrade = written.read_text().split("def upgrade() -> None:")[1].split("def downgrade")[0]
    assert "op." not in upgrade


def test_revision_autogenerate_writes_what_the_database_lacks(tmp_path: Path, migrations_copy: Path) -> None:
    path = tmp_path / "dev.db"
    url = f"sqlite:///{path}"
    run(url, "db", "upgrade")
    with sqlite3.connect(path) as conn:
        conn.execute("DROP INDEX ix_analyses_repo_created")
    proc = run(url, "db", "revision", "-m", "index again", "--autogenerate", "--directory", str(migrations_copy))
    assert "Detected added index 'ix_analyses_repo_created'" in proc.stderr
    (written,) = (migrations_copy / "versions").glob("*_index_again.py")
    assert re.search(r'create_index\(\s*"ix_analyses_repo_created"', written.read_text())


def test_revision_autogenerate_needs_a_database_at_head(tmp_path: Path, migrations_copy: Path) -> None:
    proc = run(
        f"sqlite:///{tmp_path}/empty.db",
        "db",
        "revision",
        "-m",
        "x",
        "--autogenerate",
        "--directory",
        str(migrations_copy),
        check=False,
    )
    one_line_error(proc, "run `gitproductivity db upgrade` first")
    assert list((migrations_copy / "versions").glob("*_x.py")) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["revision", "-m", "!!!"], "needs at least one letter or digit"),
        (["merge"], "there is only one head"),
        (["heads", "--directory", "/nonexistent"], "is not a migrations directory"),
    ],
)
def test_authoring_errors_are_one_line(tmp_path: Path, migrations_copy: Path, args: list[str], message: str) -> None:
    if "--directory" not in args:
        args = [*args, "--directory", str(migrations_copy)]
    one_line_error(run(f"sqlite:///{tmp_path}/unused.db", "db", *args, check=False), message)
