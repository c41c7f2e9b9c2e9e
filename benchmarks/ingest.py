"""Event ingest benchmark: events committed one per transaction, old design (per-organisation lock) against new.

    .venv/bin/python benchmarks/ingest.py [--events 20000] [--writers 1,16] [--backends sqlite,postgresql]
        [--postgres postgresql://postgres@127.0.0.1:5432/postgres] [--old-rev REV] [--authors 2000]

1. Ingest: `--events` events (`metrics.updated`, each with its delivery to one endpoint) are committed one per
   transaction through `events.emit` by 1 and by 16 writer threads, on a fresh database per run, by the code of
   this checkout ("new") and by the code of `--old-rev` ("old": by default the commit before migration
   0011_event_feed_txid, whose `emit` took the per-organisation advisory lock), exported with `git archive` and
   run side by side (each run is a fresh process importing one of the two). Old and new alternate, so both see
   the same load. Each run then pages the whole feed and checks that it serves every event once.
2. Analysis: a history with `--authors` authors (benchmarks/gen_repo.py) is analysed with a dispatcher running
   and one endpoint taking every event at a real receiver on 127.0.0.1; events per second are the analysis's
   events over the time from its start until the receiver has them all (the `emit_many` path).

The machine's load (`os.getloadavg`) is printed before and after: on a shared machine the figures move with it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from delivery import _cpu_seconds, _database, _free_port, _get, _receiver_main  # noqa: E402


def _setup(url: str, tmp: str, port: int) -> tuple[Any, str]:
    from gitproductivity import startup
    from gitproductivity.core import migrate, settings
    from gitproductivity.core.db import Database, set_database
    from gitproductivity.events.types import EVENT_TYPES
    from gitproductivity.orgs import service as orgs
    from gitproductivity.webhooks import endpoints

    settings.configure(
        database_url=url, data_dir=Path(tmp) / "data", webhook_allowed_networks="127.0.0.0/8", log_level="WARNING"
    )
    startup.install()
    db = Database(url)
    migrate.upgrade(db.engine)
    set_database(db)
    with db.session() as session:
        org = orgs.bootstrap(session, email="bench@example.com").organization.id
        endpoints.create(session, organization_id=org, url=f"http://127.0.0.1:{port}/h", events=list(EVENT_TYPES))
    return db, org


def _feed_count(db: Any, org: str) -> tuple[int, int]:
    """(events served by paging the whole feed, distinct ids among them)."""
    from gitproductivity.events import service as events

    seen: list[str] = []
    cursor = None
    while True:
        with db.session() as session:
            page = events.list_(session, organization_id=org, after=cursor, limit=1000)
        if not page:
            return len(seen), len(set(seen))
        seen += [e.id for e in page]
        cursor = page[-1].id


def _child_ingest(url: str, tmp: str, port: int, n: int, writers: int) -> dict[str, Any]:
    import gitproductivity
    from gitproductivity.events import service as events
    from gitproductivity.events.payloads import MetricsUpdated

    db, org = _setup(url, tmp, port)
    errors: list[BaseException] = []

    def write(count: int) -> None:
        try:
            for _ in range(count):
                with db.session() as session:
                    events.emit(session, organization_id=org, data=MetricsUpdated.example)
        except BaseException as exc:
            errors.append(exc)

    shares = [n // writers + (1 if i < n % writers else 0) for i in range(writers)]
    threads = [threading.Thread(target=write, args=(share,)) for share in shares]
    cpu0, t0 = _cpu_seconds(), time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed, cpu = time.perf_counter() - t0, _cpu_seconds() - cpu0
    if errors:
        raise errors[0]
    served, distinct = _feed_count(db, org)
    db.dispose()
    return {
        "rate": n / elapsed,
        "seconds": elapsed,
        "cpu_us": cpu / n * 1e6,
        "served": served,
        "distinct": distinct,
        "code": str(Path(gitproductivity.__file__).parent),
    }


def _child_analysis(url: str, tmp: str, port: int, repo: str) -> dict[str, Any]:
    from sqlalchemy import func, select

    from gitproductivity.analysis import run as runner
    from gitproductivity.events.models import Event
    from gitproductivity.repositories import flows
    from gitproductivity.webhooks.dispatcher import Dispatcher

    db, org = _setup(url, tmp, port)
    with db.session() as session:
        repo_id = flows.connect(session, organization_id=org, url=repo).id

    def count_events() -> int:
        with db.session() as session:
            return int(session.scalar(select(func.count()).select_from(Event)) or 0)

    async def main() -> dict[str, Any]:
        stop = asyncio.Event()
        dispatcher = asyncio.create_task(Dispatcher(database=db).run(stop))
        await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/dump", "POST")  # the receiver starts from 0
        before = base = await asyncio.to_thread(count_events)
        while int(await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/count")) < before:
            await asyncio.sleep(0.05)  # the connect's event reached the receiver before the analysis starts
        t0 = time.perf_counter()
        await asyncio.to_thread(runner.run_now, organization_id=org, repository_id=repo_id, trigger="cli")
        analysed = time.perf_counter() - t0
        new = await asyncio.to_thread(count_events) - before
        while int(await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/count")) < base + new:
            await asyncio.sleep(0.02)
        total = time.perf_counter() - t0
        stop.set()
        await dispatcher
        return {"events": new, "analysis_seconds": analysed, "seconds": total, "rate": new / total}

    result = asyncio.run(main())
    db.dispose()
    return result


def _run_child(src: Path, *args: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if out.returncode != 0:
        raise SystemExit(f"child {args[0]} failed:\n{out.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _old_source(rev: str, into: Path) -> Path:
    if not rev:
        added = subprocess.run(
            ["git", "-C", str(ROOT), "log", "-1", "--format=%H", "--diff-filter=A", "--", _MIGRATION],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        rev = f"{added}^"
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


_MIGRATION = "src/gitproductivity/migrations/versions/0011_event_feed_txid.py"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--writers", default="1,16")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--postgres", default=os.environ.get("GP_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    )
    parser.add_argument("--old-rev", default="", help="the old design's commit (default: before migration 0011)")
    parser.add_argument("--authors", type=int, default=2000)
    parser.add_argument("--commits", type=int, default=20_000, help="commits of the analysed history")
    parser.add_argument("--repo", type=Path, default=Path(tempfile.gettempdir()) / "gp-bench-authors.git")
    parser.add_argument("--skip-analysis", action="store_true")
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "ingest":
            url, tmp, port, n, writers = rest
            print(json.dumps(_child_ingest(url, tmp, int(port), int(n), int(writers))))
        else:
            url, tmp, port, repo = rest
            print(json.dumps(_child_analysis(url, tmp, int(port), repo)))
        return

    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    port = _free_port()
    ready = ctx.Event()
    receiver = ctx.Process(target=_receiver_main, args=(port, ready), daemon=True)
    receiver.start()
    ready.wait(30)
    uptime = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    print(f"cpu cores: {os.cpu_count()}, events per run: {args.events}; uptime before: {uptime}", flush=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            old_src = _old_source(args.old_rev, Path(tmp))
            codes = {"old (lock)": old_src, "new (txid)": ROOT / "src"}
            for backend in args.backends.split(","):
                for writers in [int(w) for w in args.writers.split(",") if w]:  # --writers "": analysis only
                    for i, (label, src) in enumerate(codes.items()):
                        url, drop = _database(backend, args.postgres, Path(tmp) / f"{backend}-{writers}-{i}.db")
                        try:
                            r = _run_child(src, "ingest", url, tmp, str(port), str(args.events), str(writers))
                        finally:
                            drop()
                        assert Path(r["code"]).parent == src, (r["code"], src)  # the child ran the code meant
                        ok = "all served once" if r["served"] == r["distinct"] == args.events else "FEED MISMATCH"
                        print(
                            f"{backend:10} {writers:2} writer(s) {label:10}: {r['rate']:7,.0f} events/s "
                            f"({r['seconds']:.1f} s, {r['cpu_us']:.0f} us CPU each); feed: {r['served']} events, "
                            f"{ok}",
                            flush=True,
                        )
            if not args.skip_analysis:
                if not args.repo.exists():
                    sys.path.insert(0, str(HERE))
                    from gen_repo import generate

                    print(f"generating {args.commits} commits by {args.authors} authors into {args.repo} ...")
                    generate(args.repo, commits=args.commits, authors=args.authors)
                for backend in args.backends.split(","):
                    url, drop = _database(backend, args.postgres, Path(tmp) / f"{backend}-analysis.db")
                    try:
                        r = _run_child(ROOT / "src", "analysis", url, tmp, str(port), str(args.repo))
                    finally:
                        drop()
                    print(
                        f"{backend:10} analysis of {args.authors} authors: {r['events']} events delivered in "
                        f"{r['seconds']:.1f} s from its start ({r['rate']:,.0f} events/s end to end; the analysis "
                        f"itself {r['analysis_seconds']:.1f} s)",
                        flush=True,
                    )
    finally:
        receiver.terminate()
        receiver.join(10)
    uptime = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    print(f"uptime after: {uptime}")


if __name__ == "__main__":
    main()
