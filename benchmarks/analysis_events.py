"""Events from an analysis, end to end to the receiver (issue 16, part 4): a 2,000-author history analysed with a
webhook endpoint subscribed to what an analysis emits, and the dispatcher running all along.

    .venv/bin/python benchmarks/analysis_events.py [--commits 20000] [--authors 2000] [--backends sqlite,postgresql]

Generates (once; reused if the path exists) a repository with `benchmarks/gen_repo.py` in which each of the
authors writes at least one commit. Then, per database, in a fresh process on a fresh database: one endpoint on a
receiver process on 127.0.0.1 (subscribed to developer.added, repository.connected, analysis.complete and
metrics.updated), the repository connected, a dispatcher started, and a full analysis run (`run.run_now`, as the
CLI does) in a thread beside it. It prints the events committed, the analysis's own time, the time from the
analysis's start until the receiver has every delivery (events per second end to end), from the analysis's return
until then, and from the first receipt to the last (the delivery rate of the burst, most of it committed in the
analysis's one transaction); then the raw aiohttp sign-and-POST loop (the delivery benchmark's ceiling) on as many
bodies, for scale. docs/benchmarks.md has the write-up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

import delivery  # noqa: E402

EVENTS = ["developer.added", "repository.connected", "analysis.complete", "metrics.updated"]


def _run(url: str, port: int, repo: str, data_dir: str, out: Any) -> None:
    from sqlalchemy import func, select

    from gitproductivity.analysis import run as runner
    from gitproductivity.core import settings
    from gitproductivity.events.models import Event
    from gitproductivity.repositories import flows
    from gitproductivity.webhooks.dispatcher import Dispatcher
    from gitproductivity.webhooks.models import Delivery

    db, org = delivery._setup(url, delivery.CONCURRENCY)
    settings.configure(**{**settings._overrides, "data_dir": Path(data_dir)})
    delivery._hooks(db, org, port, 1, EVENTS)
    receiver = f"http://127.0.0.1:{port}"

    def count(model: Any) -> int:
        with db.session() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)

    async def main() -> dict[str, float]:
        stop = asyncio.Event()
        task = asyncio.create_task(Dispatcher(database=db).run(stop))
        started = time.time()
        cpu0 = delivery._cpu_seconds()
        with db.session() as session:
            repo_id = flows.connect(session, organization_id=org, url=repo).id
        await asyncio.to_thread(runner.run_now, organization_id=org, repository_id=repo_id, trigger="cli", full=True)
        analysed = time.time()
        deliveries = await asyncio.to_thread(count, Delivery)
        while int(await asyncio.to_thread(delivery._get, f"{receiver}/count")) < deliveries:
            await asyncio.sleep(0.02)
        received = time.time()
        cpu = delivery._cpu_seconds() - cpu0
        stop.set()
        await task
        return {
            "events": await asyncio.to_thread(count, Event),
            "deliveries": deliveries,
            "analysis_s": analysed - started,
            "total_s": received - started,
            "drain_s": received - analysed,
            "cpu_s": cpu,
        }

    result = asyncio.run(main())
    result["rss_mb"] = delivery._peak_rss_mb()
    with db.session() as session:  # what the analysis's own transaction committed
        ours = set(session.scalars(select(Event.id).where(Event.type != "repository.connected")))
    seen = [t for event_id, t in json.loads(delivery._get(f"{receiver}/dump", "POST")) if event_id in ours]
    result["burst"] = len(seen)
    result["burst_s"] = max(seen) - min(seen) if seen else 0.0
    db.dispose()
    out.put(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, default=None)
    parser.add_argument("--commits", type=int, default=20_000)
    parser.add_argument("--authors", type=int, default=2_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--postgres", default=os.environ.get("GP_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    )
    args = parser.parse_args()
    repo = args.repo or Path(tempfile.gettempdir()) / f"gp-bench-events-{args.commits}-{args.authors}.git"
    if not (repo / "HEAD").is_file():
        import gen_repo

        print(f"generating {args.commits} commits by {args.authors} authors into {repo} ...", flush=True)
        gen_repo.generate(repo, commits=args.commits, authors=args.authors, every_author=True)
    ctx = mp.get_context("spawn")
    port = delivery._free_port()
    ready = ctx.Event()
    receiver = ctx.Process(target=delivery._receiver_main, args=(port, ready), daemon=True)
    receiver.start()
    ready.wait(30)
    time.sleep(0.5)
    print(f"cpu cores: {os.cpu_count()}, load {os.getloadavg()[0]:.1f}, repository {repo}", flush=True)
    try:
        for backend in args.backends.split(","):
            with tempfile.TemporaryDirectory() as tmp:
                url, drop = delivery._database(backend, args.postgres, Path(tmp) / "events.db")
                try:
                    r = delivery._in_child(_run, url, port, str(repo), str(Path(tmp) / "data"))
                finally:
                    drop()
                ceiling = delivery._in_child(delivery._ceiling, port, r["deliveries"], "aiohttp")
                print(
                    f"{backend:10} {r['events']:,} events, {r['deliveries']:,} deliveries | analysis "
                    f"{r['analysis_s']:.1f} s | start -> every delivery received {r['total_s']:.1f} s "
                    f"({r['deliveries'] / r['total_s']:,.0f} events/s end to end) | the analysis returned -> "
                    f"every delivery received {r['drain_s']:.2f} s | the analysis's {r['burst']:,} events, first "
                    f"to last receipt {r['burst_s']:.2f} s ({r['burst'] / max(r['burst_s'], 1e-9):,.0f}/s; "
                    f"the aiohttp loop alone on as many: {ceiling['rate']:,.0f}/s) | CPU {r['cpu_s']:.1f} s, peak RSS "
                    f"{r['rss_mb']:.0f} MB | load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
    finally:
        receiver.terminate()
        receiver.join(10)


if __name__ == "__main__":
    main()
