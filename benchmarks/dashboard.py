"""The dashboard on a git/git-size history (issue 13): server time and HTML size, on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/dashboard.py [--repo PATH] [--commits 82000] [--authors 2500] [--years 20]
        [--backends sqlite,postgres] [--postgres postgresql://postgres@127.0.0.1:5432/postgres] [--runs 7]
        [--keep FILE.db] [--from-sqlite FILE.db]

Generates (once; reused if PATH exists) a history with `benchmarks/gen_repo.py`: `--commits` commits by
`--authors` people (each at least one commit; a few very active, a long tail) spread over `--years` years up to
today. Each backend gets a fresh database (a temporary SQLite file; a scratch PostgreSQL database, dropped at the
end) where the history is analysed for real (`analysis.run.run_now`, as `gitproductivity analyse` does), and a
team of every tenth developer is made. The pages are then asked for in-process through the real app (FastAPI's
TestClient with a signed-in session: routing, sessions, templates counted, the network not): the default
dashboard (last 12 months, per week), the same with the team chosen, all time, and the first page of the
contributors list. Printed: the median of `--runs` requests in ms (wall, and this process's CPU: on SQLite that
includes the database's work), and the HTML's size. Targets: under 250 ms and 150 KB for the default dashboard.

Analysing 82,000 commits takes minutes on a loaded machine; `--keep` saves the analysed SQLite database and
`--from-sqlite` gives PostgreSQL a copy of its rows (every table, as the analysis wrote them) instead of a second
analysis.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET_MS, TARGET_BYTES = 250, 150_000


def _history(args: argparse.Namespace) -> Path:
    if args.repo.exists():
        return args.repo
    sys.path.insert(0, str(Path(__file__).parent))
    from gen_repo import generate

    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    started = time.perf_counter()
    generate(
        args.repo,
        commits=args.commits,
        authors=args.authors,
        years=args.years,
        every_author=True,
        end=int(today.timestamp()),
    )
    print(f"generated {args.repo} in {time.perf_counter() - started:.0f} s")
    return args.repo


def _timed(client: Any, path: str, params: dict[str, str], runs: int) -> tuple[float, float, int]:
    times, cpu, size = [], [], 0
    for _ in range(runs + 1):
        started, cpu_started = time.perf_counter(), time.process_time()
        resp = client.get(path, params=params)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
        assert resp.status_code == 200 and 'role="alert"' not in resp.text, resp.text[:2000]
        size = len(resp.content)
    # The first request warms the caches (templates, statements): not counted.
    return statistics.median(times[1:]), statistics.median(cpu[1:]), size


def _bench(backend: str, url: str, repo: Path, args: argparse.Namespace) -> None:
    from fastapi.testclient import TestClient
    from sqlalchemy import select

    from gitproductivity import startup
    from gitproductivity.analysis import run
    from gitproductivity.app import create_app
    from gitproductivity.core import migrate, settings
    from gitproductivity.core.db import get_database
    from gitproductivity.developers.models import Developer
    from gitproductivity.metrics.models import DailyRollup
    from gitproductivity.orgs import service as orgs
    from gitproductivity.repositories import flows
    from gitproductivity.teams import service as teams
    from gitproductivity.teams.models import Team

    with tempfile.TemporaryDirectory() as tmp:
        if args.from_sqlite and backend == "sqlite":  # a copy of the analysed file, migrated to this code's schema
            shutil.copyfile(args.from_sqlite, Path(tmp) / "copy.db")
            url = f"sqlite:///{Path(tmp) / 'copy.db'}"
        settings.configure(
            database_url=url,
            data_dir=Path(tmp) / "data",
            run_workers_in_server=False,
            rate_limit_per_minute=0,
            log_level="WARNING",
            ownership=False,  # git blame at the head: minutes on 82,000 commits, and no part of the dashboard
        )
        migrate.upgrade(get_database().engine)
        startup.install()
        started = time.perf_counter()
        if args.from_sqlite and backend == "sqlite":
            org, email, password = _reuse()
            how = "a copy of the analysed SQLite database"
        elif args.from_sqlite:
            org, email, password = _copy(Path(args.from_sqlite))
            how = f"copied from the analysed SQLite database in {time.perf_counter() - started:.0f} s"
        else:
            with get_database().session() as session:
                created = orgs.bootstrap(session, email="bench@example.com", org_name="bench")
                org, email, password = created.organization.id, created.user.email, created.password
                repo_id = flows.connect(session, organization_id=org, url=str(repo), name="git").id
            run.run_now(organization_id=org, repository_id=repo_id, full=True)
            how = f"analysed in {time.perf_counter() - started:.0f} s"
        with get_database().session() as session:
            people = list(
                session.scalars(select(Developer.id).where(Developer.organization_id == org).order_by(Developer.id))
            )
            rollups = len(session.scalars(select(DailyRollup.day)).all())
            team_id = session.scalar(select(Team.id).where(Team.organization_id == org, Team.name == "Every tenth"))
            if team_id is None:  # (a copied database has it already)
                team = teams.create(session, organization_id=org, name="Every tenth")
                for dev in people[::10]:
                    teams.add_member(session, organization_id=org, team_id=team.id, developer_id=dev)
                team_id = team.id
        with get_database().engine.connect() as conn:  # fresh statistics, as autovacuum would have them
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
        print(
            f"\n{backend}: {len(people):,} developers, {rollups:,} daily rollups, {how} "
            f"(load average {os.getloadavg()[0]:.1f})"
        )
        client = TestClient(create_app(run_workers=False))
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token is not None
        form = {"email": email, "password": password, "csrf_token": token.group(1)}
        assert client.post("/login", data=form, follow_redirects=False).status_code == 303
        cases: list[tuple[str, str, dict[str, str]]] = [
            ("dashboard, default (12 months, per week)", "/dashboard", {}),
            ("dashboard, a team (every tenth developer)", "/dashboard", {"team_id": team_id}),
            ("dashboard, all time (per month)", "/dashboard", {"range": "all"}),
            ("dashboard, 12 months per day", "/dashboard", {"granularity": "day"}),
            ("contributors list, first page (12 months)", "/dashboard/contributors", {}),
        ]
        print(f"{'page':<45} {'median ms':>10} {'cpu ms':>8} {'bytes':>9}")
        for label, path, params in cases:
            ms, cpu, size = _timed(client, path, params, args.runs)
            mark = ""
            if path == "/dashboard" and not params:
                mark = "  ok" if ms < TARGET_MS and size < TARGET_BYTES else "  OVER TARGET"
            print(f"{label:<45} {ms:>10.1f} {cpu:>8.1f} {size:>9,}{mark}")
        get_database().engine.dispose()


def _reuse() -> tuple[str, str, str]:
    """The organisation of a copied SQLite database, and its owner with a new password."""
    import secrets

    from sqlalchemy import select

    from gitproductivity.core.db import get_database
    from gitproductivity.orgs import service as orgs
    from gitproductivity.orgs.models import Organization

    password = secrets.token_urlsafe(16)
    with get_database().session() as session:
        org = session.scalars(select(Organization)).one()
        orgs.reset_password(session, email="bench@example.com", new_password=password)
        return org.id, "bench@example.com", password


def _copy(source: Path) -> tuple[str, str, str]:
    """Every table of an analysed SQLite database into this (empty, migrated) one, as the analysis wrote it; the
    organisation, and its owner with a new password."""

    from sqlalchemy import create_engine, select

    from gitproductivity.core.db import Base, get_database

    reader = create_engine(f"sqlite:///{source}")
    with reader.connect() as src, get_database().engine.begin() as dst:
        for table in Base.metadata.sorted_tables:
            rows = [dict(row) for row in src.execute(select(table)).mappings()]
            for i in range(0, len(rows), 5000):
                dst.execute(table.insert(), rows[i : i + 5000])
    reader.dispose()
    return _reuse()


def main() -> None:
    sys.path.insert(0, str(ROOT / "src"))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, default=Path(tempfile.gettempdir()) / "gp-dashboard-bench.git")
    parser.add_argument("--commits", type=int, default=82_000)
    parser.add_argument("--authors", type=int, default=2_500)
    parser.add_argument("--years", type=int, default=20)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument(
        "--from-sqlite",
        help="an analysed SQLite database (a copy of this script's): PostgreSQL gets its rows instead of analysing",
    )
    parser.add_argument("--keep", type=Path, help="keep the analysed SQLite database there (for --from-sqlite)")
    args = parser.parse_args()
    repo = _history(args)
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                _bench("sqlite", f"sqlite:///{tmp}/bench.db", repo, args)
                if args.keep:
                    import sqlite3

                    with sqlite3.connect(f"{tmp}/bench.db") as src, sqlite3.connect(args.keep) as dst:
                        src.backup(dst)
        else:
            import psycopg

            name = f"gp_dash_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(args.postgres, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            try:
                _bench("postgres", args.postgres.rsplit("/", 1)[0] + "/" + name, repo, args)
            finally:
                with psycopg.connect(args.postgres, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
