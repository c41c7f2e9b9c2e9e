"""Scale-out on PostgreSQL: 1 API process + N `gitproductivity worker` processes on one database, N = 1, 2, 4.

    .venv/bin/python benchmarks/scale.py [--workers 1,2,4] [--endpoints 20] [--backlog 500] [--live 500]
                                         [--rate 10] [--seconds 10] [--repeat 1]
                                         [--postgres postgresql://postgres@127.0.0.1:5432/postgres]

Processes, all on 127.0.0.1: a fresh PostgreSQL database (created here, dropped at the end); `gitproductivity
serve --no-workers` with GITPRODUCTIVITY_RUN_WORKERS_IN_SERVER=false (the API process, no dispatcher inside);
N `gitproductivity worker --only dispatcher` processes; a receiver in its own process that notes when each
POST arrives (and answers 200 at once).

Events come only through the API. The events API is a read-only feed (there is no "emit" endpoint), so events
are made by a domain action: each `POST /v1/developers` commits one `developer.added` event, fanned out to
`--endpoints` webhooks (created with `POST /v1/webhooks`), i.e. one API request = that many deliveries. There is
no batch endpoint for developers, so the script sends 8 requests at a time. No service-layer emit is used.

For each N, three phases:

1. backlog: the N workers are started and wait idle; they are frozen (SIGSTOP), `--backlog` events are made
   through the API, then all workers are resumed at once (SIGCONT). Deliveries/s = deliveries / (time from the
   resume until the receiver has every delivery and the database has recorded every one as succeeded). This
   is the workers' own throughput; the API's rate while making the backlog is printed too.
2. live: `--live` events made through the API as fast as it answers (8 requests at a time) while the workers
   run: end-to-end deliveries/s (first request to last receipt) and commit -> receipt latency, where "commit"
   is the moment the API's 201 arrived (the transaction committed just before it, so this slightly
   understates the latency).
3. steady: `--rate` events/s for `--seconds` s (at a load the workers keep up with): commit -> receipt p50/p99.

Peak RSS per worker is its VmHWM (from /proc) before it is stopped. Every process started here is stopped by
its pid at the end, also on errors, Ctrl-C or SIGTERM. Everything is bounded: each wait has a timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

EXE = str(Path(sys.executable).with_name("gitproductivity"))
API_CONCURRENCY = 8
WAIT_LIMIT = 120.0  # seconds any phase may take before the run is abandoned


# --- the receiver (its own process) ---------------------------------------------------------------------


def _receiver_main(port: int, ready: Any) -> None:
    from aiohttp import web

    seen: list[tuple[str, str, float]] = []  # (developer id, delivery id, time received)

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        at = time.time()
        if request.headers.get("X-GitProductivity-Event") == "developer.added":
            dev = json.loads(body)["data"]["developer_id"]
            seen.append((dev, request.headers.get("X-GitProductivity-Delivery", ""), at))
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


# --- helpers ------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http(url: str, method: str = "GET", body: Any = None, key: str | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data else {}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=60) as resp:
        text = resp.read().decode()
    try:
        return json.loads(text)
    except ValueError:
        return text


def _wait(check: Any, what: str, timeout: float = WAIT_LIMIT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f} s")


def _percentiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return float("nan"), float("nan")
    q = statistics.quantiles(values, n=100, method="inclusive")
    return q[49], q[98]


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Processes:
    """Every child process of the run, stopped by its own pid (SIGTERM, then SIGKILL after a grace period)."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.children: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 (the child owns it)
        proc = subprocess.Popen([EXE, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.children.append(proc)
        return proc

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def stop(self, procs: list[subprocess.Popen[bytes]]) -> list[int | None]:
        for proc in procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)  # a frozen process cannot handle SIGTERM
                proc.send_signal(signal.SIGTERM)
        codes: list[int | None] = []
        for proc in procs:
            try:
                codes.append(proc.wait(timeout=30))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
                codes.append(None)
            if proc in self.children:
                self.children.remove(proc)
        return codes

    def stop_all(self) -> None:
        self.stop(list(self.children))


# --- making events through the API --------------------------------------------------------------------------


async def _make_events(api: str, key: str, prefix: str, count: int, rate: float | None) -> dict[str, float]:
    """POST `count` developers (each commits one developer.added event); developer id -> time its 201 arrived.

    With `rate`, request i is sent at start + i/rate; without it, API_CONCURRENCY requests are kept in flight.
    """
    import aiohttp

    committed: dict[str, float] = {}
    headers = {"Authorization": f"Bearer {key}"}
    numbers = iter(range(count))
    start = time.perf_counter()

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=API_CONCURRENCY)) as session:

        async def one(i: int) -> None:
            body = {"name": f"Dev {prefix} {i}", "email": f"{prefix}-{i}@example.com"}
            async with session.post(f"{api}/v1/developers", json=body, headers=headers) as resp:
                answer = await resp.json()
                if resp.status != 201:
                    raise RuntimeError(f"POST /v1/developers answered {resp.status}: {answer}")
            committed[answer["id"]] = time.time()

        async def client() -> None:
            for i in numbers:
                if rate is not None:
                    delay = start + i / rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                await one(i)

        await asyncio.wait_for(asyncio.gather(*(client() for _ in range(API_CONCURRENCY))), timeout=WAIT_LIMIT)
    return committed


# --- one N --------------------------------------------------------------------------------------------------


class Run:
    def __init__(
        self, args: argparse.Namespace, procs: Processes, api: tuple[str, int], key: str, receiver: str, db: str
    ) -> None:
        self.args = args
        self.procs = procs
        self.api, self.api_pid = api
        self.key = key
        self.receiver = receiver
        self.db = db

    def received(self) -> int:
        return int(_http(f"{self.receiver}/count"))

    def dump(self) -> list[tuple[str, str, float]]:
        return [tuple(r) for r in _http(f"{self.receiver}/dump", "POST")]  # type: ignore[misc]

    def succeeded(self) -> int:
        import psycopg

        with psycopg.connect(self.db, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded' AND NOT is_test"
            ).fetchone()
        return int(row[0]) if row else 0

    def settle(self, total: int, before: int) -> float:
        """Wait until the receiver has `total` new POSTs and the database records them (`before` + `total`
        successes); the end time."""
        _wait(lambda: self.received() >= total, f"{total} deliveries at the receiver")
        _wait(lambda: self.succeeded() >= before + total, f"{total} deliveries recorded")
        return time.time()

    def measure(self, n: int, round_: int = 0) -> dict[str, Any]:
        endpoints = self.args.endpoints
        names = [f"worker-{n}-{i}-r{round_}" for i in range(n)]
        workers = [self.procs.start(name, "worker", "--only", "dispatcher") for name in names]
        _wait(lambda: all("webhook dispatcher started" in self.procs.log(name) for name in names), "workers ready", 60)
        time.sleep(0.5)
        out: dict[str, Any] = {"n": n}
        base = self.succeeded()

        # 1. backlog: made through the API while the workers are frozen, then drained by all N at once.
        for w in workers:
            os.kill(w.pid, signal.SIGSTOP)
        t0, api_cpu = time.time(), _cpu_seconds(self.api_pid)
        made = asyncio.run(_make_events(self.api, self.key, f"b{n}r{round_}", self.args.backlog, None))
        out["api_events_per_s"] = len(made) / (time.time() - t0)
        out["api_cpu_ms"] = (_cpu_seconds(self.api_pid) - api_cpu) / len(made) * 1000
        total = len(made) * endpoints
        cpu0 = sum(_cpu_seconds(w.pid) for w in workers)
        resumed = time.time()
        for w in workers:
            os.kill(w.pid, signal.SIGCONT)
        end = self.settle(total, base)
        out["worker_cpu_us"] = (sum(_cpu_seconds(w.pid) for w in workers) - cpu0) / total * 1e6
        seen = self.dump()
        out["backlog_rate"] = total / (end - resumed)
        out["backlog_deliveries"] = total
        out["duplicates"] = len(seen) - len({d for _, d, _ in seen})
        base += total

        # 2. live: as fast as the API answers, workers running.
        t0 = time.time()
        made = asyncio.run(_make_events(self.api, self.key, f"l{n}r{round_}", self.args.live, None))
        total = len(made) * endpoints
        self.settle(total, base)
        seen = self.dump()
        last = max(at for _, _, at in seen)
        out["live_rate"] = total / (last - t0)
        out["live_p50"], out["live_p99"] = _percentiles([(at - made[dev]) * 1000 for dev, _, at in seen])
        out["duplicates"] += len(seen) - len({d for _, d, _ in seen})
        base += total

        # 3. steady: a fixed offered rate the workers keep up with.
        count = int(self.args.rate * self.args.seconds)
        made = asyncio.run(_make_events(self.api, self.key, f"s{n}r{round_}", count, self.args.rate))
        total = len(made) * endpoints
        self.settle(total, base)
        seen = self.dump()
        out["steady_p50"], out["steady_p99"] = _percentiles([(at - made[dev]) * 1000 for dev, _, at in seen])
        out["duplicates"] += len(seen) - len({d for _, d, _ in seen})

        out["rss_mb"] = [_peak_rss_mb(w.pid) for w in workers]
        codes = self.procs.stop(workers)
        out["exit_codes"] = codes
        for name in names:
            if "Traceback" in self.procs.log(name):
                raise RuntimeError(f"{name} logged a traceback:\n{self.procs.log(name)[-3000:]}")
        return out


# --- main ---------------------------------------------------------------------------------------------------


def _create_database(admin_url: str) -> tuple[str, Any]:
    import psycopg

    name = f"gp_scale_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return admin_url.rsplit("/", 1)[0] + "/" + name, drop


def main() -> None:
    from gitproductivity import startup

    startup.install()  # webhooks hears every event, as in the service
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="1,2,4", help="comma-separated worker counts")
    parser.add_argument("--endpoints", type=int, default=20, help="webhooks subscribed to developer.added")
    parser.add_argument("--backlog", type=int, default=500, help="events in the backlog phase")
    parser.add_argument("--live", type=int, default=500, help="events in the live phase")
    parser.add_argument("--rate", type=float, default=10.0, help="events/s in the steady phase")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the steady phase")
    parser.add_argument("--repeat", type=int, default=1, help="rounds over all N (interleaved); medians at the end")
    parser.add_argument(
        "--postgres", default=os.environ.get("GP_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    )
    args = parser.parse_args()

    def on_term(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    ctx = mp.get_context("spawn")
    port, api_port = _free_port(), _free_port()
    ready = ctx.Event()
    receiver = ctx.Process(target=_receiver_main, args=(port, ready), daemon=True)
    db_url, drop = _create_database(args.postgres)
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "GITPRODUCTIVITY_DATABASE_URL": db_url.replace("postgresql://", "postgresql+psycopg://", 1),
            "GITPRODUCTIVITY_DATA_DIR": str(Path(tmp) / "data"),
            "GITPRODUCTIVITY_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            "GITPRODUCTIVITY_RUN_WORKERS_IN_SERVER": "false",
            "GITPRODUCTIVITY_LOG_LEVEL": "INFO",
        }
        procs = Processes(env, Path(tmp))
        try:
            receiver.start()
            if not ready.wait(30):
                raise TimeoutError("the receiver did not start")
            init = subprocess.run(
                [EXE, "init", "--email", "bench@example.com", "--json"], env=env, capture_output=True, timeout=120
            )
            if init.returncode != 0:
                raise RuntimeError(f"init failed: {init.stderr.decode()[-2000:]}")
            key = json.loads(init.stdout)["api_key"]
            env_api = {**env, "GITPRODUCTIVITY_LOG_LEVEL": "WARNING"}  # no access log line per request
            procs.env = env_api
            api_proc = procs.start("api", "serve", "--no-workers", "--host", "127.0.0.1", "--port", str(api_port))
            procs.env = env
            api = f"http://127.0.0.1:{api_port}"

            def api_up() -> bool:
                try:
                    return bool(_http(f"{api}/healthz")["status"] == "ok")
                except OSError:
                    return False

            _wait(api_up, "the API", 60)
            for i in range(args.endpoints):
                hook = _http(
                    f"{api}/v1/webhooks",
                    "POST",
                    {"url": f"http://127.0.0.1:{port}/h/{i}", "events": ["developer.added"]},
                    key,
                )
                if not hook["test"]["ok"]:
                    raise RuntimeError(f"the receiver did not answer the test delivery: {hook['test']}")
            run = Run(args, procs, (api, api_proc.pid), key, f"http://127.0.0.1:{port}", db_url)
            print(
                f"cpu cores: {os.cpu_count()}, python {sys.version.split()[0]}; {args.endpoints} endpoints per event; "
                f"backlog {args.backlog} events, live {args.live} events, steady {args.rate:g} events/s for "
                f"{args.seconds:g} s",
                flush=True,
            )
            counts = [int(x) for x in args.workers.split(",")]
            results: dict[int, list[dict[str, Any]]] = {n: [] for n in counts}
            for round_ in range(args.repeat):  # interleaved, so drifting load on a shared machine hits every N
                for n in counts:
                    r = run.measure(n, round_)
                    results[n].append(r)
                    print(
                        f"N={n} run {round_ + 1}: backlog {r['backlog_deliveries']:,} deliveries drained at "
                        f"{r['backlog_rate']:,.0f}/s (API made the events at {r['api_events_per_s']:.0f}/s = "
                        f"{r['api_events_per_s'] * args.endpoints:,.0f} deliveries/s, {r['api_cpu_ms']:.1f} ms API "
                        f"CPU per event; workers' CPU {r['worker_cpu_us']:.0f} us per delivery); live "
                        f"{r['live_rate']:,.0f} deliveries/s, commit->receipt p50 {r['live_p50']:.0f} ms p99 "
                        f"{r['live_p99']:.0f} ms; steady {args.rate * args.endpoints:g} deliveries/s: p50 "
                        f"{r['steady_p50']:.1f} ms p99 {r['steady_p99']:.1f} ms; peak RSS per worker "
                        f"{', '.join(f'{m:.0f}' for m in r['rss_mb'])} MB; duplicates {r['duplicates']}; "
                        f"exit codes {r['exit_codes']}",
                        flush=True,
                    )
            for n in counts:

                def med(key: str, n: int = n) -> float:
                    return statistics.median(r[key] for r in results[n])

                print(
                    f"N={n} median of {args.repeat}: backlog {med('backlog_rate'):,.0f} deliveries/s "
                    f"({med('worker_cpu_us'):.0f} us worker CPU each); live {med('live_rate'):,.0f} deliveries/s, "
                    f"p50 {med('live_p50'):.0f} ms p99 {med('live_p99'):.0f} ms; steady p50 "
                    f"{med('steady_p50'):.1f} ms p99 {med('steady_p99'):.1f} ms; API {med('api_events_per_s'):.0f} "
                    f"events/s; peak RSS per worker up to {max(max(r['rss_mb']) for r in results[n]):.0f} MB; "
                    f"duplicates {sum(r['duplicates'] for r in results[n])}",
                    flush=True,
                )
        finally:
            procs.stop_all()
            if receiver.pid is not None:
                receiver.terminate()
                receiver.join(10)
            drop()


if __name__ == "__main__":
    main()
