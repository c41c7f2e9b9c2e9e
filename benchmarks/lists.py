"""Lists that scale (issue 13): `GET /v1/metrics/developers` and `GET /v1/developers` at 2,500 developers and
20 years of daily rollups, on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/lists.py [--developers 2500] [--years 20] [--backends sqlite,postgres]
        [--postgres postgresql://postgres@127.0.0.1:5432/postgres] [--runs 5]

A fresh database per backend (a temporary SQLite file; a scratch PostgreSQL database, dropped at the end),
migrated, with one organisation, two repositories, `--developers` developers (a few bots) and rollups over
`--years` years: each developer is active for a span of the years (long for a few, short for most, as in real
histories) on about one day in four of it. A team holds every tenth developer. Each request is made in-process
through the real app (FastAPI's TestClient, so routing, validation and JSON are counted, the network is not);
the median of `--runs` is printed in milliseconds (wall and this process's CPU) with the size of the answer.
The machine load (`os.getloadavg`) is printed too: on a shared machine, wall times grow with it.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _populate(developers: int, years: int, tmp: Path) -> tuple[str, str, int]:
    from gitproductivity.core.db import bulk_insert, get_database
    from gitproductivity.developers import service as devs
    from gitproductivity.metrics.models import DailyRollup
    from gitproductivity.orgs import service as orgs
    from gitproductivity.repositories import flows
    from gitproductivity.teams import service as teams

    rng = random.Random(13)
    first_names = ["Ann", "Bob", "Cid", "Dee", "Eve", "Fay", "Gus", "Hal", "Ivy", "Jo", "Kim", "Lu", "Mo", "Ned"]
    with get_database().session() as session:
        created = orgs.bootstrap(session, email="bench@example.com", org_name="bench")
        org = created.organization.id
        repos = []
        for name in ("core", "web"):
            (tmp / name / ".git").mkdir(parents=True)
            repos.append(flows.connect(session, organization_id=org, url=str(tmp / name)).id)
        people = [
            (f"{rng.choice(first_names)} {rng.choice(first_names)}son {n}", f"dev{n}@example.com", n % 100 == 0)
            for n in range(developers)
        ]
        found, _events = devs.create_found(session, organization_id=org, people=people)
        team = teams.create(session, organization_id=org, name="Every tenth")
        for dev in found[::10]:
            teams.add_member(session, organization_id=org, team_id=team.id, developer_id=dev.id)
        team_id = team.id
    end = date(2026, 12, 1)
    start = end - timedelta(days=365 * years)
    span_days = (end - start).days
    rows: list[dict[str, Any]] = []
    count = 0
    for dev in found:
        length = min(span_days, int(rng.paretovariate(1.2) * 60))  # most are short-lived, a few stay for decades
        begin = rng.randint(0, span_days - length)
        for offset in range(begin, begin + length):
            if rng.random() < 0.25:
                day = start + timedelta(days=offset)
                at = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
                commits = rng.randint(1, 5)
                rows.append(
                    {
                        "repository_id": rng.choice(repos),
                        "developer_id": dev.id,
                        "day": day,
                        "organization_id": org,
                        "commits": commits,
                        "merges": rng.randint(0, 1),
                        "lines_added": commits * rng.randint(1, 80),
                        "lines_deleted": commits * rng.randint(0, 40),
                        "files_changed": commits * rng.randint(1, 4),
                        "first_commit_at": at,
                        "last_commit_at": at,
                    }
                )
        if len(rows) > 50_000:
            count += _flush(rows, bulk_insert, DailyRollup)
    count += _flush(rows, bulk_insert, DailyRollup)
    return created.api_key, team_id, count


def _flush(rows: list[dict[str, Any]], bulk_insert: Callable[..., None], model: Any) -> int:
    from gitproductivity.core.db import get_database

    # A developer may have drawn the same day in both repositories: keep the key unique.
    unique = list({(r["repository_id"], r["developer_id"], r["day"]): r for r in rows}.values())
    with get_database().session() as session:
        bulk_insert(session, model.__table__, unique)
    rows.clear()
    return len(unique)


def _timed(call: Callable[[], Any], runs: int) -> tuple[float, float, int]:
    """Median wall time and median CPU time of this process (on SQLite that includes the database's work; on
    PostgreSQL the server's is not in it), in ms, and the answer's size."""
    times, cpu, size = [], [], 0
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        resp = call()
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
        assert resp.status_code == 200, resp.text
        size = len(resp.content)
    return statistics.median(times), statistics.median(cpu), size


def _bench(backend: str, url: str, args: argparse.Namespace) -> None:
    from fastapi.testclient import TestClient

    from gitproductivity import startup
    from gitproductivity.app import create_app
    from gitproductivity.core import migrate, settings
    from gitproductivity.core.db import get_database

    settings.configure(database_url=url, run_workers_in_server=False, rate_limit_per_minute=0)
    migrate.upgrade(get_database().engine)
    startup.install()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        key, team_id, rollups = _populate(args.developers, args.years, Path(tmp))
        with get_database().engine.connect() as conn:  # fresh statistics, as autovacuum would have them
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
        print(
            f"\n{backend} (load average {os.getloadavg()[0]:.1f}): {args.developers} developers, "
            f"{rollups:,} daily rollups over {args.years} years "
            f"(made in {time.perf_counter() - started:.0f} s)"
        )
        client = TestClient(create_app(), headers={"Authorization": f"Bearer {key}"})

        def deep(path: str, params: dict[str, Any], pages: int) -> dict[str, Any]:
            query = dict(params)
            for _ in range(pages):
                body = client.get(path, params=query).json()
                query = {**params, "after": body["next_cursor"]}
            return query

        metrics = "/v1/metrics/developers"
        cases: list[tuple[str, str, dict[str, Any]]] = [
            ("metrics, first page (default -commits, 50)", metrics, {}),
            ("metrics, page 40 (sort=name)", metrics, deep(metrics, {"sort": "name"}, 39)),
            ("metrics, sort=-last_commit_at", metrics, {"sort": "-last_commit_at"}),
            ("metrics, q=son 1", metrics, {"q": "son 1"}),
            ("metrics, team_id (250 developers)", metrics, {"team_id": team_id}),
            ("metrics, last 12 months", metrics, {"from": "2025-12-01"}),
            ("metrics, limit=500", metrics, {"limit": 500}),
            ("developers, first page (sort=name)", "/v1/developers", {"sort": "name"}),
            ("developers, page 40 (sort=-email)", "/v1/developers", deep("/v1/developers", {"sort": "-email"}, 39)),
            ("developers, q=son 1", "/v1/developers", {"q": "son 1"}),
        ]
        page_two = client.get(metrics, params={"sort": "name"}).json()["next_cursor"]
        after_two = client.get(metrics, params={"sort": "name", "after": page_two}).json()["previous_cursor"]
        cases.append(("metrics, back to page 1 (before=)", metrics, {"sort": "name", "before": after_two}))
        print(f"{'request':<45} {'median ms':>10} {'cpu ms':>8} {'bytes':>9}")
        for label, path, params in cases:
            ms, cpu, size = _timed(lambda path=path, params=params: client.get(path, params=params), args.runs)
            print(f"{label:<45} {ms:>10.1f} {cpu:>8.1f} {size:>9,}")
        _developer_page(args.runs)


def _developer_page(runs: int) -> None:
    """A developer's page (issue 13): the queries of `/developers/{id}` for the developer with the longest history
    (their totals, their periods, their repositories), without the HTML, for each range the page offers."""
    from sqlalchemy import func, select

    from gitproductivity.core.db import get_database
    from gitproductivity.metrics.models import DailyRollup
    from gitproductivity.profiles import views

    with get_database().session() as session:
        dev_id, org, days, first, last = session.execute(
            select(
                DailyRollup.developer_id,
                DailyRollup.organization_id,
                func.count(),
                func.min(DailyRollup.day),
                func.max(DailyRollup.day),
            )
            .group_by(DailyRollup.developer_id, DailyRollup.organization_id)
            .order_by(func.count().desc())
            .limit(1)
        ).one()
    print(f"developer page: the longest history, {days:,} rollups from {first} to {last}")
    for key in views.RANGES:
        times, cpu = [], []
        for _ in range(runs):
            started, cpu_started = time.perf_counter(), time.process_time()
            with get_database().session() as session:
                figures = views._figures(session, org, dev_id, key)
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
        label = f"developer page queries, range={key} ({len(figures['periods'])} {figures['period']}s)"
        print(f"{label:<45} {statistics.median(times):>10.1f} {statistics.median(cpu):>8.1f}")


def main() -> None:
    sys.path.insert(0, str(ROOT / "src"))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--developers", type=int, default=2500)
    parser.add_argument("--years", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                _bench("sqlite", f"sqlite:///{tmp}/bench.db", args)
        else:
            import psycopg

            name = f"gp_lists_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(args.postgres, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            try:
                from gitproductivity.core.db import get_database

                _bench("postgres", args.postgres.rsplit("/", 1)[0] + "/" + name, args)
                get_database().engine.dispose()
            finally:
                with psycopg.connect(args.postgres, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
