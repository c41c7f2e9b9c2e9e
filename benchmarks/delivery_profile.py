"""Where the dispatcher's CPU goes, per delivery: the event loop's thread and the database thread apart.

    .venv/bin/python benchmarks/delivery_profile.py [--backend sqlite|postgres] [--events 5000] [--top 30]
        [--endpoints 1] [--no-profile] [--postgres URL]

The receiver of `benchmarks/delivery.py` runs in its own process; N events are committed (1 endpoint, or
`--endpoints` of them), then one dispatcher (concurrency 64) sends them all. Printed: the thread CPU time per
delivery of the event loop (claims handed to tasks, signing, the HTTP client, metrics) and of the database thread
(claim and record, all statements included), measured without the profiler; then, in a second run on a fresh
database, cProfile of each thread (own time and cumulative), so the split can be read without the profiler's
overhead. docs/benchmarks.md ("The engine's own cost") has the findings.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import multiprocessing as mp
import pstats
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from delivery import _database, _emit_many, _free_port, _get, _hooks, _receiver_main, _setup


def _run(url: str, port: int, n: int, endpoints: int, profile: bool) -> dict[str, Any]:
    from gitproductivity.webhooks.dispatcher import Dispatcher

    db, org = _setup(url, 64)
    _hooks(db, org, port, endpoints, ["metrics.updated"])
    _emit_many(db, org, n // endpoints)
    db_cpu = [0.0]
    # Thread CPU time, not wall time: a C call that releases the GIL (a socket send, urandom) would otherwise be
    # charged with the time spent waiting to take the GIL back from the other thread.
    db_prof = cProfile.Profile(time.thread_time)
    loop_prof = cProfile.Profile(time.thread_time)
    original = Dispatcher._db

    async def timed_db(self: Any, work: Any) -> Any:
        def measured(session: Any) -> Any:
            t0 = time.thread_time()
            if profile:
                db_prof.enable()
            try:
                return work(session)
            finally:
                if profile:
                    db_prof.disable()
                db_cpu[0] += time.thread_time() - t0

        return await original(self, measured)

    Dispatcher._db = timed_db  # type: ignore[method-assign]

    async def main() -> float:
        stop = asyncio.Event()
        start = time.thread_time()
        task = asyncio.create_task(Dispatcher(database=db).run(stop))
        while int(await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/count")) < n:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)  # the last batch of outcomes is recorded
        stop.set()
        await task
        return time.thread_time() - start

    if profile:
        loop_prof.enable()
    wall0 = time.perf_counter()
    loop_cpu = asyncio.run(main())
    wall = time.perf_counter() - wall0
    if profile:
        loop_prof.disable()
    _get(f"http://127.0.0.1:{port}/dump", "POST")
    db.dispose()
    return {
        "loop_us": loop_cpu / n * 1e6,
        "db_us": db_cpu[0] / n * 1e6,
        "rate": n / wall,
        "threads": threading.active_count(),
        "db_prof": db_prof,
        "loop_prof": loop_prof,
    }


def _print(prof: cProfile.Profile, title: str, top: int, n: int) -> None:
    print(f"\n=== {title}: by own time (tottime / {n} deliveries) ===")
    stats = pstats.Stats(prof)
    stats.sort_stats("tottime").print_stats(top)
    print(f"\n=== {title}: cumulative ===")
    stats.sort_stats("cumulative").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--endpoints", type=int, default=1)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--no-profile", action="store_true", help="only the thread CPU figures")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    port = _free_port()
    ready = ctx.Event()
    receiver = ctx.Process(target=_receiver_main, args=(port, ready), daemon=True)
    receiver.start()
    ready.wait(30)
    time.sleep(0.5)
    backend = "sqlite" if args.backend == "sqlite" else "postgresql"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for profile in (False, True) if not args.no_profile else (False,):
                url, drop = _database(backend, args.postgres, Path(tmp) / f"p{profile}.db")
                try:
                    r = _run(url, port, args.events, args.endpoints, profile)
                finally:
                    drop()
                label = "with the profiler" if profile else "without the profiler"
                print(
                    f"{backend} {args.endpoints} endpoint(s), {args.events} deliveries, {label}: "
                    f"event loop {r['loop_us']:.0f} us CPU per delivery, database thread {r['db_us']:.0f} us, "
                    f"{r['rate']:,.0f} deliveries/s",
                    flush=True,
                )
                if profile:
                    _print(r["loop_prof"], "event loop thread", args.top, args.events)
                    _print(r["db_prof"], "database thread", args.top, args.events)
    finally:
        receiver.terminate()
        receiver.join(10)


if __name__ == "__main__":
    main()
