"""Webhook delivery benchmark: the engine end to end against a plain aiohttp sign+POST loop (the ceiling).

    .venv/bin/python benchmarks/delivery.py [--events 20000] [--postgres postgresql://postgres@127.0.0.1/postgres]
        [--before /tmp/before/src]

A receiver runs in its own process on 127.0.0.1 and notes when each request arrives. In one run, side by side:

1. ceiling: one aiohttp ClientSession signs (both signature headers) and POSTs the same bodies at
   concurrency 64; the same loop through our own client (`webhooks/client.py`, which the engine uses) is
   measured too, so the engine's own cost (database, scheduling, logging) shows apart from the client's;
2. one endpoint: N events are committed (with their deliveries), then a dispatcher starts; time from its start
   until every delivery is recorded `succeeded` in the database. The ceiling is measured again just before
   each such run and the ratio is to that figure (other load on a shared machine drifts during a run);
3. fan-out: N/100 `metrics.updated` events to 100 endpoints (N deliveries), timed the same way;
4. trickle: events committed one per transaction at 100/s for 10 s with the dispatcher running; latency is
   from each commit to the receiver seeing the POST.

`--compare filter` runs instead, for 1 and 100 endpoints, the engine without filters and with a filter on every
endpoint that every event matches (`data.repository_id $in [the repository + 999 others]` and
`data.totals.commits $gte 0`; ordering "none"), back to back in each repetition (the order alternating), and
prints both rates and their ratio. `--compare ordering` runs 1 endpoint unordered, then ordered `per_repository`
with the events spread over `--keys` repositories (comma-separated counts, default 10,100), back to back, and
prints the overall rate and the rate per key (each key's deliveries over the time from its first to its last
arrival).

Each engine scenario runs in a fresh process (peak RSS is that process's) on a fresh database, on SQLite and
on PostgreSQL. Each throughput scenario runs `--repeat` times (default 3), each time right after its own
ceiling run, and the median ratio is reported. CPU time per delivery (all threads of the process) is printed
next to the rates: on a shared machine it is the steadier figure. `--before SRC` runs, in each repetition and
after the same ceiling runs, the engine of another source tree too (`git archive <commit> src | tar -x -C
/tmp/before`), each on its own fresh database, their order alternating: before and after in one run.
docs/benchmarks.md has the write-up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import resource
import socket
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

CONCURRENCY = 64


# --- the receiver (its own process) ---------------------------------------------------------------------


def _receiver_main(port: int, ready: Any) -> None:
    from aiohttp import web

    seen: list[tuple[str, float]] = []

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        seen.append((request.headers.get("webhook-id", ""), time.time()))
        return web.Response(text="ok")

    async def count(_request: web.Request) -> web.Response:
        return web.Response(text=str(len(seen)))

    async def dump(_request: web.Request) -> web.Response:
        data = json.dumps(seen)
        seen.clear()
        return web.Response(text=data)

    app = web.Application()
    app.router.add_get("/count", count)
    app.router.add_post("/dump", dump)
    app.router.add_post("/{tail:.*}", hook)
    ready.set()
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def _get(url: str, method: str = "GET") -> str:
    req = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(req, timeout=30) as resp:
        return str(resp.read().decode())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    """CPU time of this process, all threads (the dispatcher's database thread included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _percentiles(values: list[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    q = statistics.quantiles(values, n=100, method="inclusive")
    return q[49], q[98]


# --- the ceiling --------------------------------------------------------------------------------------------


def _ceiling(port: int, n: int, client: str, out: Any) -> None:
    """The same sign-and-POST loop through aiohttp's ClientSession (the issue's ceiling) or through our own
    `webhooks.client.HttpClient` (what the engine would do with no database at all)."""
    import aiohttp

    from gitproductivity.webhooks import signing
    from gitproductivity.webhooks.client import HttpClient
    from gitproductivity.webhooks.guard import Guard

    secret = signing.generate_secret()
    bodies = [
        json.dumps(
            {"id": f"evt_{i:026d}", "type": "metrics.updated", "created_at": "2026-03-19T10:30:00Z", "data": {"n": i}},
            separators=(",", ":"),
        ).encode()
        for i in range(n)
    ]
    url = f"http://127.0.0.1:{port}/ceiling"

    async def main() -> float:
        queue = iter(enumerate(bodies))
        ours = HttpClient(guard=Guard(allowed_networks=("127.0.0.0/8",)), timeout=30)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:

            async def worker() -> None:
                for i, body in queue:
                    headers = signing.headers(
                        body=body,
                        event_id=f"evt_{i:026d}",
                        event_type="metrics.updated",
                        delivery_id=f"dlv_{i}",
                        secret=secret,
                        timestamp=int(time.time()),
                    )
                    if client == "ours":
                        assert (await ours.post(url, body, headers)).status == 200
                        continue
                    async with session.post(url, data=body, headers=headers) as r:
                        await r.read()
                        assert r.status == 200

            t0 = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
            elapsed = time.perf_counter() - t0
        await ours.close()
        return elapsed

    cpu0 = _cpu_seconds()
    elapsed = asyncio.run(main())
    cpu_us = (_cpu_seconds() - cpu0) / n * 1e6
    _get(f"http://127.0.0.1:{port}/dump", "POST")
    out.put({"rate": n / elapsed, "seconds": elapsed, "cpu_us": cpu_us, "rss_mb": _peak_rss_mb()})


# --- the engine ---------------------------------------------------------------------------------------------


def _setup(url: str, concurrency: int) -> tuple[Any, str]:
    from gitproductivity import startup
    from gitproductivity.core import migrate, settings
    from gitproductivity.core.db import Database, set_database
    from gitproductivity.orgs import service as orgs

    settings.configure(
        database_url=url,
        webhook_allowed_networks="127.0.0.0/8",
        webhook_concurrency=concurrency,
        log_level="WARNING",
    )
    startup.install()  # webhooks hears every event, as in the service (each scenario is a fresh process)
    db = Database(url)
    migrate.upgrade(db.engine)
    set_database(db)
    with db.session() as session:
        org = orgs.bootstrap(session, email="bench@example.com").organization.id
    return db, org


def _filter() -> dict[str, Any]:
    """Matches every event `_emit_many` writes, and makes the filter do some work (a 1,000-value `$in`)."""
    from gitproductivity.events.payloads import MetricsUpdated

    repo = MetricsUpdated.example.repository_id
    return {
        "data.repository_id": {"$in": [repo] + [f"repo_{i:026d}" for i in range(999)]},
        "data.totals.commits": {"$gte": 0},
    }


def _hooks(db: Any, org: str, port: int, count: int, events: list[str], **options: Any) -> None:
    from gitproductivity.webhooks import endpoints

    with db.session() as session:
        for i in range(count):
            endpoints.create(
                session, organization_id=org, url=f"http://127.0.0.1:{port}/h/{i}", events=events, **options
            )


def _emit_many(db: Any, org: str, n: int, chunk: int = 1000, keys: int = 0) -> dict[str, float]:
    """`n` metrics.updated events (over `keys` repositories, round robin, when `keys`): their commit times by id."""
    from gitproductivity.events import service as events
    from gitproductivity.events.payloads import MetricsUpdated

    example = MetricsUpdated.example
    payloads = [example]
    if keys:
        fields = {name: getattr(example, name) for name in type(example).model_fields}
        payloads = [MetricsUpdated(**{**fields, "repository_id": f"repo_{k:026d}"}) for k in range(keys)]
    commits: dict[str, float] = {}
    done = 0
    while done < n:
        ids = []
        with db.session() as session:
            for i in range(done, min(n, done + chunk)):
                ids.append(events.emit(session, organization_id=org, data=payloads[i % len(payloads)]).id)
        t = time.time()
        commits.update(dict.fromkeys(ids, t))
        done += len(ids)
    return commits


async def _run_until(db: Any, receiver: str, deliveries: int, work: Any = None) -> tuple[float, float]:
    """Start a dispatcher; return (start time, time when `deliveries` are recorded as succeeded)."""
    from sqlalchemy import func, select

    from gitproductivity.webhooks.dispatcher import Dispatcher
    from gitproductivity.webhooks.models import Delivery

    def succeeded() -> int:
        with db.session() as session:
            return int(
                session.scalar(select(func.count()).select_from(Delivery).where(Delivery.status == "succeeded")) or 0
            )

    def received() -> int:
        return int(_get(f"{receiver}/count"))

    stop = asyncio.Event()
    start = time.time()
    task = asyncio.create_task(Dispatcher(database=db).run(stop))
    if work is not None:
        await work()
    # Ask the receiver first: polling the database would compete with the dispatcher for SQLite's write lock.
    while await asyncio.to_thread(received) < deliveries:
        await asyncio.sleep(0.02)
    while await asyncio.to_thread(succeeded) < deliveries:
        await asyncio.sleep(0.02)
    end = time.time()
    stop.set()
    await task
    return start, end


def _engine(
    url: str, port: int, scenario: str, n: int, concurrency: int, out: Any, variant: str = "plain", src: str = ""
) -> None:
    """`variant`: "plain", "filter" (a matching filter on every endpoint) or "ordered:<keys>" (per_repository).
    `src`: run the engine of another source tree (`--before`), imported ahead of this one."""
    if src:
        sys.path.insert(0, src)
    db, org = _setup(url, concurrency)
    receiver = f"http://127.0.0.1:{port}"
    result: dict[str, Any] = {}
    if scenario in ("one", "fanout"):
        endpoints = 1 if scenario == "one" else 100
        keys = int(variant.split(":")[1]) if variant.startswith("ordered:") else 0
        options: dict[str, Any] = {"event_filter": _filter()} if variant == "filter" else {}
        if keys:
            options["ordering"] = "per_repository"
        _hooks(db, org, port, endpoints, ["metrics.updated"], **options)
        t0 = time.time()
        commits = _emit_many(db, org, n // endpoints, keys=keys)
        result["emit_seconds"] = time.time() - t0
        cpu0 = _cpu_seconds()
        start, end = asyncio.run(_run_until(db, receiver, n))
        result["cpu_us"] = (_cpu_seconds() - cpu0) / n * 1e6
        seen = json.loads(_get(f"{receiver}/dump", "POST"))
        lat = [(t - start) * 1000 for _, t in seen]
        result.update(rate=n / (end - start), seconds=end - start, received=len(seen))
        result["p50_ms"], result["p99_ms"] = _percentiles(lat)
        if keys:  # the rate per key: each key's deliveries from its first arrival to its last
            position = {eid: i for i, eid in enumerate(commits)}
            by_key: dict[int, list[float]] = {}
            for eid, t in seen:
                by_key.setdefault(position[eid] % keys if eid in position else -1, []).append(t)
            rates = [len(ts) / (max(ts) - min(ts)) for k, ts in by_key.items() if k >= 0 and len(ts) > 1]
            result["per_key_rate"] = statistics.median(rates) if rates else float("nan")
    else:  # trickle: 100 events/s for 10 s, one transaction each, dispatcher running
        _hooks(db, org, port, 1, ["metrics.updated"])
        commits: dict[str, float] = {}
        total = 1000

        async def trickle() -> None:
            from gitproductivity.events import service as events
            from gitproductivity.events.payloads import MetricsUpdated

            def one(i: int) -> None:
                with db.session() as session:
                    eid = events.emit(session, organization_id=org, data=MetricsUpdated.example).id
                commits[eid] = time.time()

            await asyncio.sleep(0.5)  # let the dispatcher settle
            t0 = time.perf_counter()
            for i in range(total):
                await asyncio.to_thread(one, i)
                delay = t0 + (i + 1) / 100 - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)

        asyncio.run(_run_until(db, receiver, total, trickle))
        seen = json.loads(_get(f"{receiver}/dump", "POST"))
        lat = [(t - commits[eid]) * 1000 for eid, t in seen if eid in commits]
        result["p50_ms"], result["p99_ms"] = _percentiles(lat)
        result["received"] = len(seen)
    result["rss_mb"] = _peak_rss_mb()
    db.dispose()
    out.put(result)


def _in_child(target: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, out), kwargs=kwargs)
    proc.start()
    result: dict[str, Any] = out.get(timeout=900)
    proc.join(60)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument(
        "--postgres", default=os.environ.get("GP_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    )
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--repeat", type=int, default=3, help="runs per scenario; the median ratio is reported")
    parser.add_argument(
        "--concurrency", type=int, default=CONCURRENCY, help="the engine's WEBHOOK_CONCURRENCY (default: the ceiling's)"
    )
    parser.add_argument("--compare", choices=["filter", "ordering"], help="side by side: see the docstring")
    parser.add_argument("--keys", default="10,100", help="--compare ordering: repositories the events spread over")
    parser.add_argument(
        "--before",
        default="",
        help="the src/ of another tree (a `git archive` of an older commit): its engine runs beside this one's in "
        "each repetition, on its own fresh database, after the same ceiling runs (the order alternating)",
    )
    args = parser.parse_args()
    n = args.events

    ctx = mp.get_context("spawn")
    port = _free_port()
    ready = ctx.Event()
    receiver = ctx.Process(target=_receiver_main, args=(port, ready), daemon=True)
    receiver.start()
    ready.wait(30)
    time.sleep(0.5)
    try:
        print(
            f"cpu cores: {os.cpu_count()}, python {sys.version.split()[0]}, deliveries per run: {n}, "
            f"engine concurrency {args.concurrency}; load average {os.getloadavg()[0]:.2f}"
        )
        if args.compare:
            _compare(args, port)
            return
        for backend in args.backends.split(","):
            with tempfile.TemporaryDirectory() as tmp:
                for scenario in ("one", "fanout"):
                    label = "1 endpoint" if scenario == "one" else "100 endpoints"
                    trees = ["after", "before"] if args.before else ["after"]
                    ratios: dict[str, list[float]] = {t: [] for t in trees}
                    own_ratios: dict[str, list[float]] = {t: [] for t in trees}
                    cpus: dict[str, list[float]] = {t: [] for t in trees}
                    for rep in range(args.repeat):
                        # The ceilings just before each engine run: other load on a shared machine drifts.
                        ceiling = _in_child(_ceiling, port, n, "aiohttp")
                        own = _in_child(_ceiling, port, n, "ours")
                        for tree in trees if rep % 2 == 0 else list(reversed(trees)):
                            url, drop = _database(backend, args.postgres, Path(tmp) / f"{scenario}{rep}{tree}.db")
                            try:
                                src = args.before if tree == "before" else ""
                                r = _in_child(_engine, url, port, scenario, n, args.concurrency, src=src)
                            finally:
                                drop()
                            ratios[tree].append(r["rate"] / ceiling["rate"])
                            own_ratios[tree].append(r["rate"] / own["rate"])
                            cpus[tree].append(r["cpu_us"])
                            name = f" {tree}" if args.before else ""
                            print(
                                f"{backend:10} {label:13} run {rep + 1}{name}: ceiling {ceiling['rate']:,.0f}/s "
                                f"({ceiling['cpu_us']:.0f} us CPU each; our client alone {own['rate']:,.0f}/s, "
                                f"{own['cpu_us']:.0f} us) | engine {r['rate']:,.0f} deliveries/s "
                                f"({r['cpu_us']:.0f} us CPU each), ratio {ratios[tree][-1]:.2f} (to our client alone "
                                f"{own_ratios[tree][-1]:.2f}); start->receipt "
                                f"p50 {r['p50_ms']:.0f} ms p99 {r['p99_ms']:.0f} ms; peak RSS {r['rss_mb']:.0f} MB "
                                f"(ceiling {ceiling['rss_mb']:.0f} MB); "
                                f"committing the events took {r['emit_seconds']:.1f} s; "
                                f"load average {os.getloadavg()[0]:.2f}",
                                flush=True,
                            )
                    for tree in trees:
                        name = f" {tree}" if args.before else ""
                        print(
                            f"{backend:10} {label:13}{name} median ratio {statistics.median(ratios[tree]):.2f} "
                            f"(to our client alone {statistics.median(own_ratios[tree]):.2f}), "
                            f"median engine CPU {statistics.median(cpus[tree]):.0f} us per delivery",
                            flush=True,
                        )
                url, drop = _database(backend, args.postgres, Path(tmp) / "trickle.db")
                try:
                    r = _in_child(_engine, url, port, "trickle", n, args.concurrency)
                finally:
                    drop()
                print(
                    f"{backend:10} trickle 100 events/s: commit->receipt p50 {r['p50_ms']:.1f} ms, "
                    f"p99 {r['p99_ms']:.1f} ms ({r['received']} received), peak RSS {r['rss_mb']:.0f} MB",
                    flush=True,
                )
    finally:
        receiver.terminate()
        receiver.join(10)


def _compare(args: Any, port: int) -> None:
    """Variants back to back in each repetition (their order alternating, so drift favours neither)."""
    n = args.events
    if args.compare == "filter":
        cases = [("one", ["plain", "filter"]), ("fanout", ["plain", "filter"])]
    else:
        cases = [("one", ["plain"] + [f"ordered:{k}" for k in args.keys.split(",")])]
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            for scenario, variants in cases:
                label = "1 endpoint" if scenario == "one" else "100 endpoints"
                rates: dict[str, list[float]] = {v: [] for v in variants}
                per_key: dict[str, list[float]] = {v: [] for v in variants}
                for rep in range(args.repeat):
                    for variant in variants if rep % 2 == 0 else list(reversed(variants)):
                        url, drop = _database(
                            backend, args.postgres, Path(tmp) / f"{scenario}{rep}{variant.replace(':', '_')}.db"
                        )
                        try:
                            r = _in_child(_engine, url, port, scenario, n, args.concurrency, variant=variant)
                        finally:
                            drop()
                        rates[variant].append(r["rate"])
                        per_key[variant].append(r.get("per_key_rate", float("nan")))
                        print(
                            f"{backend:10} {label:13} run {rep + 1} {variant:12}: {r['rate']:,.0f} deliveries/s "
                            f"({r['cpu_us']:.0f} us CPU each)"
                            + (f", {r['per_key_rate']:,.1f}/s per key" if "per_key_rate" in r else ""),
                            flush=True,
                        )
                base = statistics.median(rates[variants[0]])
                for variant in variants:
                    median = statistics.median(rates[variant])
                    extra = f", per key {statistics.median(per_key[variant]):,.1f}/s" if variant != "plain" else ""
                    if variant == "filter":
                        ratio = statistics.median(f / p for f, p in zip(rates["filter"], rates["plain"], strict=True))
                        extra = f", ratio to plain (median of the runs' ratios) {ratio:.2f}"
                    print(
                        f"{backend:10} {label:13} median {variant:12} {median:,.0f} deliveries/s "
                        f"({median / base:.2f} of plain){extra}",
                        flush=True,
                    )


def _database(backend: str, admin_url: str, path: Path) -> tuple[str, Any]:
    if backend == "sqlite":
        return f"sqlite:///{path}", lambda: None
    import psycopg

    name = f"gp_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return admin_url.rsplit("/", 1)[0] + "/" + name, drop


if __name__ == "__main__":
    main()
