"""Per-endpoint rate limit benchmark: one endpoint limited to `--rate` per second, `--workers` real
`gitproductivity worker` processes on one PostgreSQL, a backlog deep enough to last `--seconds`.

    .venv/bin/python benchmarks/rate_limit.py [--rate 50] [--seconds 20] [--workers 2]
        [--postgres postgresql://postgres@127.0.0.1/postgres]

A receiver in its own process notes when each request arrives. The backlog (rate x (seconds + 4) events, so the
queue never runs dry while measured) is committed before the workers start; the first two seconds after the
first arrival are left out (workers starting), then the arrivals in each of the next `--seconds` one-second
windows are counted. Printed: each window's count, their min / max / mean, whether every one is within
rate +- 10%, which worker sent how many, and that every delivery was tried exactly once (waiting for a slot is no
attempt). docs/benchmarks.md has the write-up.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from delivery import _database, _free_port, _get, _receiver_main, _setup

EXE = str(Path(sys.executable).with_name("gitproductivity"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1/postgres")
    args = parser.parse_args()

    port = _free_port()
    ready = mp.get_context("spawn").Event()
    receiver = mp.get_context("spawn").Process(target=_receiver_main, args=(port, ready), daemon=True)
    receiver.start()
    ready.wait(30)
    url, drop = _database("postgresql", args.postgres, Path(tempfile.mkdtemp()) / "unused.db")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        db, org = _setup(url, 256)
        from sqlalchemy import func, select

        from gitproductivity.events import service as events
        from gitproductivity.events.payloads import MetricsUpdated
        from gitproductivity.webhooks import endpoints
        from gitproductivity.webhooks.models import Delivery

        with db.session() as session:
            hook = endpoints.create(
                session,
                organization_id=org,
                url=f"http://127.0.0.1:{port}/limited",
                events=["*"],
                rate_limit_per_second=args.rate,
            ).id
        total = int(args.rate * (args.seconds + 4))
        with db.session() as session:
            events.emit_many(session, organization_id=org, data=[MetricsUpdated.example] * total)
        env = {
            **os.environ,
            "GITPRODUCTIVITY_DATABASE_URL": url,
            "GITPRODUCTIVITY_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            "GITPRODUCTIVITY_LOG_LEVEL": "WARNING",
        }
        for _ in range(args.workers):
            procs.append(subprocess.Popen([EXE, "worker"], env=env))
        deadline = time.monotonic() + args.seconds + 60
        while int(_get(f"http://127.0.0.1:{port}/count")) < args.rate * (args.seconds + 2.5):
            if time.monotonic() > deadline:
                raise SystemExit("the receiver did not get enough deliveries in time")
            time.sleep(0.5)
        seen: list[tuple[str, float]] = json.loads(_get(f"http://127.0.0.1:{port}/dump", method="POST"))
        first = min(t for _, t in seen)
        windows = Counter(int(t - first) for _, t in seen)
        counts = [windows.get(n, 0) for n in range(2, 2 + args.seconds)]
        low, high = args.rate * 0.9, args.rate * 1.1
        with db.session() as session:
            senders = Counter(
                session.scalars(
                    select(Delivery.worker_id).where(Delivery.webhook_id == hook, Delivery.attempts > 0)
                ).all()
            )
            tried_more = session.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.webhook_id == hook, Delivery.attempts > 1)
            )
        print(f"rate limit {args.rate:g}/s, {args.workers} worker processes on PostgreSQL, {total} events queued")
        print(f"arrivals per second over {args.seconds} s (after 2 s of start-up): {counts}")
        print(
            f"min {min(counts)}  max {max(counts)}  mean {statistics.mean(counts):.2f}  "
            f"every second within {low:g}..{high:g}: {all(low <= c <= high for c in counts)}"
        )
        print(f"deliveries sent by each worker (so far): {sorted(senders.values(), reverse=True)}")
        print(f"deliveries tried more than once: {tried_more}")
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(30)
        receiver.kill()
        drop()


if __name__ == "__main__":
    main()
