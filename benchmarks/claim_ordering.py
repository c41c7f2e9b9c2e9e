"""The claim's cost with the ordering test (webhooks.ordering) against the same claim without it, side by side.

A database with `--pending` due deliveries of one unordered endpoint (and, with `--ordered`, as many more of an
ordered endpoint, over `--keys` keys, older than the rest so the claim meets them first). Where the code parks held
deliveries at fan-out (`webhooks.ordering.park`, issue 15), the held ones are parked as fan-out would leave them;
the same script on an older tree leaves them due, as that tree's fan-out did. Then, alternating in
one run, `queue.claim` of `--batch` deliveries with the statement as shipped and with the ordering test replaced by
TRUE (the claim before ordering existed), each rolled back so every claim meets the same rows. Prints the median
milliseconds of each (wall time; on SQLite also this process's CPU time, where all the work is) and the median
of the ratios of adjacent pairs (steadier on a shared machine), on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/claim_ordering.py [--pending 20000] [--batch 256] [--runs 40] [--ordered 0]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, true


def _rows(org: str, hook: str, n: int, keys: int, age: float) -> list[dict[str, Any]]:
    from gitproductivity.core.clock import utcnow
    from gitproductivity.core.ids import new_id

    when = utcnow() - timedelta(seconds=age)
    return [
        {
            "id": new_id("dlv"),
            "organization_id": org,
            "webhook_id": hook,
            "event_id": new_id("evt"),
            "event_type": "metrics.updated",
            "payload": "{}",
            "is_test": False,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": when,
            "created_at": when,
            "order_key": f"repo_{i % keys}" if keys else None,
            "order_seq": 1 if keys else None,
        }
        for i in range(n)
    ]


def _run(url: str, args: Any) -> dict[str, float]:
    from gitproductivity import startup
    from gitproductivity.core import migrate, settings
    from gitproductivity.core.db import Database
    from gitproductivity.orgs import service as orgs
    from gitproductivity.webhooks import endpoints, queue
    from gitproductivity.webhooks.models import Delivery

    settings.configure(database_url=url, webhook_allowed_networks="127.0.0.0/8", log_level="WARNING")
    startup.install()
    db = Database(url)
    migrate.upgrade(db.engine)
    with db.session() as session:
        org = orgs.bootstrap(session, email=f"{uuid.uuid4().hex[:8]}@example.com").organization.id
        plain = endpoints.create(session, organization_id=org, url="http://127.0.0.1:9/a", events=["*"]).id
        ordered = endpoints.create(
            session, organization_id=org, url="http://127.0.0.1:9/b", events=["*"], ordering="per_repository"
        ).id
    table: Any = Delivery.__table__
    with db.session() as session:
        for start in range(0, args.ordered, 5000):
            session.execute(insert(table), _rows(org, ordered, min(5000, args.ordered - start), args.keys, 60))
        for start in range(0, args.pending, 5000):
            session.execute(insert(table), _rows(org, plain, min(5000, args.pending - start), 0, 30))
    from gitproductivity.webhooks import ordering

    park = getattr(ordering, "park", None)  # absent before held deliveries were parked (issue 15, held backlog)
    if park is not None and args.ordered:  # the backlog as this tree's fan-out leaves it: the held ones parked
        with db.session() as session:
            ids = list(session.scalars(select(Delivery.id).where(Delivery.webhook_id == ordered)))
            park(session, keys=[(ordered, f"repo_{i}") for i in range(args.keys)], ids=ids)
            held = session.scalar(
                select(func.count()).where(Delivery.webhook_id == ordered, Delivery.next_attempt_at.is_(None))
            )
        print(f"  parked {held} of the {args.ordered} ordered deliveries (held behind their key's head)", flush=True)
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE webhook_deliveries")

    # Both statements built once, as the shipped claim builds its own once (`queue._claim_statement` is cached).
    shipped_test, shipped_build = queue.ordering.claimable, queue._claim_statement
    postgresql = db.engine.dialect.name == "postgresql"
    built = {True: shipped_build(postgresql=postgresql)}
    shipped_build.cache_clear()
    queue.ordering.claimable = lambda *, postgresql: true()  # type: ignore[assignment]
    built[False] = shipped_build(postgresql=postgresql)
    queue.ordering.claimable = shipped_test
    shipped_build.cache_clear()

    def use(with_test: bool) -> None:
        queue._claim_statement = lambda *, postgresql: built[with_test]  # type: ignore[assignment]

    times: dict[bool, list[float]] = {True: [], False: []}
    cpu: dict[bool, list[float]] = {True: [], False: []}
    for i in range(args.runs * 2 + 4):  # runs is even-rounded by the ABBA order
        with_test = i % 4 in (0, 3)  # ABBA: neither statement always runs first
        use(with_test)
        with db.session() as session:
            t0, c0 = time.perf_counter(), time.process_time()
            jobs = queue.claim(session, limit=args.batch, lease_seconds=60)
            elapsed, used = time.perf_counter() - t0, time.process_time() - c0
            assert len(jobs) == args.batch, len(jobs)
            session.rollback()
        if i >= 4:  # the first claims warm caches and prepare statements
            times[with_test].append(elapsed * 1000)
            cpu[with_test].append(used * 1000)
    queue._claim_statement = shipped_build  # type: ignore[assignment]
    db.dispose()
    pairs = [a / b for a, b in zip(times[True], times[False], strict=True)]
    return {
        "with": statistics.median(times[True]),
        "without": statistics.median(times[False]),
        "ratio": statistics.median(pairs),
        "cpu_with": statistics.median(cpu[True]),
        "cpu_without": statistics.median(cpu[False]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pending", type=int, default=20_000)
    parser.add_argument("--ordered", type=int, default=0, help="due deliveries of an ordered endpoint, besides")
    parser.add_argument("--keys", type=int, default=10)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    import psycopg

    for backend in ("sqlite", "postgresql"):
        with tempfile.TemporaryDirectory() as tmp:
            if backend == "sqlite":
                url, drop = f"sqlite:///{Path(tmp) / 'claim.db'}", None
            else:
                name = "bench_claim_" + uuid.uuid4().hex[:8]
                admin = args.postgres.replace("postgresql+psycopg", "postgresql")
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(f'CREATE DATABASE "{name}"')
                url, drop = args.postgres.rsplit("/", 1)[0] + "/" + name, name
            try:
                r = _run(url, args)
            finally:
                if drop is not None:
                    with psycopg.connect(admin, autocommit=True) as conn:
                        conn.execute(f'DROP DATABASE IF EXISTS "{drop}" WITH (FORCE)')
            print(
                f"{backend:10} claim of {args.batch} among {args.pending} unordered"
                f"{f' + {args.ordered} ordered over {args.keys} keys' if args.ordered else ''} due: "
                f"with the ordering test {r['with']:.2f} ms, without {r['without']:.2f} ms, median pair ratio "
                f"{r['ratio']:.2f}; CPU here {r['cpu_with']:.2f} ms vs {r['cpu_without']:.2f} ms",
                flush=True,
            )


if __name__ == "__main__":
    main()
