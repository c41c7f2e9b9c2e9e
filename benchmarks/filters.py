"""Filters at fan-out: what an endpoint filter costs `emit_many` (the analysis store's path).

One transaction emits a batch of `metrics.updated` events to N endpoints subscribed to the type, first with no
filter, then with a filter on every endpoint that every event matches (so both runs write the same deliveries):
`{"data.repository_id": {"$in": [<the repository>, 999 others]}, "data.totals.commits": {"$gte": 0}}`. Prints
the median seconds of each and the ratio. Each scenario runs on a fresh database.

    .venv/bin/python benchmarks/filters.py [--events 500] [--endpoints 100] [--repeat 5] [--database-url URL]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg


def _database(url: str | None, tmp: Path) -> str:
    if url is None:
        return f"sqlite:///{tmp / (uuid.uuid4().hex + '.db')}"
    name = "bench_filters_" + uuid.uuid4().hex[:8]
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + "/" + name


def _drop(server: str | None, url: str) -> None:
    if server is not None:
        with psycopg.connect(server.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def _run(url: str, events: int, endpoints: int, filtered: bool) -> float:
    from gitproductivity import startup
    from gitproductivity.core import migrate, settings
    from gitproductivity.core.db import Database, set_database
    from gitproductivity.events import service as events_service
    from gitproductivity.events.payloads import MetricsUpdated
    from gitproductivity.orgs import service as orgs
    from gitproductivity.webhooks import endpoints as hooks

    settings.configure(database_url=url, webhook_allowed_networks="127.0.0.0/8", log_level="WARNING")
    startup.install()
    db = Database(url)
    migrate.upgrade(db.engine)
    set_database(db)
    repo = MetricsUpdated.example.repository_id
    spec: Any = {
        "data.repository_id": {"$in": [repo] + [f"repo_{i:026d}" for i in range(999)]},
        "data.totals.commits": {"$gte": 0},
    }
    with db.session() as session:
        org = orgs.bootstrap(session, email=f"{uuid.uuid4().hex[:8]}@example.com").organization.id
        for i in range(endpoints):
            hooks.create(
                session,
                organization_id=org,
                url=f"http://127.0.0.1:9/h/{i}",
                events=["metrics.updated"],
                event_filter=spec if filtered else None,
            )
    batch = [MetricsUpdated.example] * events
    t0 = time.perf_counter()
    with db.session() as session:
        events_service.emit_many(session, organization_id=org, data=batch)
    elapsed = time.perf_counter() - t0
    db.dispose()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--endpoints", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server URL (default: SQLite files)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        times: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.repeat):
            for filtered in (False, True):  # interleaved, so load changes hit both alike
                url = _database(args.database_url, Path(tmp))
                try:
                    times[filtered].append(_run(url, args.events, args.endpoints, filtered))
                finally:
                    _drop(args.database_url, url)
    plain, with_filter = statistics.median(times[False]), statistics.median(times[True])
    deliveries = args.events * args.endpoints
    print(f"{args.events} events x {args.endpoints} endpoints = {deliveries:,} deliveries in one emit_many")
    print(f"  no filter:   {plain:.3f} s median ({deliveries / plain:,.0f} deliveries/s)")
    print(f"  with filter: {with_filter:.3f} s median ({deliveries / with_filter:,.0f} deliveries/s)")
    print(f"  ratio: {with_filter / plain:.3f}")


if __name__ == "__main__":
    main()
