"""API benchmark: `gitproductivity serve` against a minimal FastAPI + SQLAlchemy app on the same database.

    .venv/bin/python benchmarks/api.py [--duration 10] [--runs 3] [--concurrency 1,16,64]
        [--backends sqlite,postgres] [--postgres postgresql://postgres@127.0.0.1/postgres]
        [--endpoints post-developers,get-developers,get-events] [--before SRC] [--developers N]

Two servers, each one uvicorn process with the same settings (same protocol, h11, same event loop, log level
`warning`, so no access log), on the same database (a fresh SQLite file, or a scratch PostgreSQL database):

- minimal: what a bare app pays. A sync FastAPI route checks the bearer key by SHA-256 against our `api_keys`
  table and, in the same transaction, inserts one row (`POST /v1/developers`) or reads a page of rows (50 rows
  of its own table for `GET /v1/developers`; the first 100 rows of our `events` table, payloads parsed, for
  `GET /v1/events`; `--developers N` adds N rows to both tables first, `benchmarks/api_seed.py`); pydantic models
  in and out; on SQLite the same durability as ours (WAL, `synchronous=NORMAL`: no flush per commit);
- ours: the real `gitproductivity serve --no-workers` (rate limit off), same endpoints.

One client, an asyncio + aiohttp load generator in its own process, keeps `concurrency` requests in flight for
`--duration` seconds (after a short warm-up) and counts the 2xx answers (anything else is reported and fails
the run). CPU per request is the server process's CPU time (user + system, all threads, from /proc) over the
measured window divided by the requests answered. Cells are interleaved (minimal, ours, minimal, ours, ...)
and repeated `--runs` times; medians are printed, with the ratio ours/minimal of each run's pair. The load
(`uptime`) is printed before and after: the machine is shared. docs/benchmarks.md has the write-up.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel
from sqlalchemy import Column, DateTime, Index, MetaData, String, Table, create_engine, event, insert, select, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
ENDPOINTS = {
    "post-developers": ("POST", "/v1/developers"),
    "get-developers": ("GET", "/v1/developers"),
    "get-events": ("GET", "/v1/events"),
}
WARMUP = 1.0


# --- the minimal app (run in its own process: `api.py --serve-minimal URL PORT`) -----------------------------


class ItemCreate(BaseModel):
    name: str
    email: str


class ItemRead(BaseModel):
    id: str
    name: str
    email: str
    created_at: datetime


class ItemPage(BaseModel):
    data: list[ItemRead]


class EventPage(BaseModel):
    data: list[dict[str, Any]]


def minimal_app(url: str) -> FastAPI:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=10)

        @event.listens_for(engine, "connect")
        def _same_durability_as_ours(dbapi_connection: Any, _record: Any) -> None:
            # What our server sets (core.db): WAL, and no fsync at each commit (synchronous=NORMAL). SQLite's default
            # (FULL) would make the minimal app pay a flush per commit that ours does not.
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL"):
                dbapi_connection.execute(f"PRAGMA {pragma}")

    else:
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), pool_size=10)
    meta = MetaData()
    items = Table(
        "bench_minimal_items",
        meta,
        Column("id", String, primary_key=True),
        Column("organization_id", String, nullable=False),
        Column("name", String, nullable=False),
        Column("email", String, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Index("ix_bench_minimal_items_org_id", "organization_id", "id"),  # its page by index at any size
    )
    meta.create_all(engine)

    app = FastAPI()

    def organization(session: Session, authorization: str | None) -> str:
        if not authorization or not authorization.startswith("Bearer "):
            raise HTTPException(401, "missing key")
        digest = hashlib.sha256(authorization[7:].encode()).hexdigest()
        org = session.scalar(
            text("SELECT organization_id FROM api_keys WHERE key_hash = :h AND revoked_at IS NULL"), {"h": digest}
        )
        if org is None:
            raise HTTPException(401, "invalid key")
        return str(org)

    @app.post("/v1/developers", status_code=201, response_model=ItemRead)
    def create(body: ItemCreate, authorization: Annotated[str | None, Header()] = None) -> ItemRead:
        with Session(engine) as session, session.begin():
            org = organization(session, authorization)
            row = {"id": uuid.uuid4().hex, "name": body.name, "email": body.email, "created_at": datetime.now(UTC)}
            session.execute(insert(items), [{**row, "organization_id": org}])
        return ItemRead(**row)

    @app.get("/v1/developers", response_model=ItemPage)
    def list_items(authorization: Annotated[str | None, Header()] = None) -> ItemPage:
        with Session(engine) as session, session.begin():
            org = organization(session, authorization)
            rows = session.execute(
                select(items.c.id, items.c.name, items.c.email, items.c.created_at)
                .where(items.c.organization_id == org)
                .order_by(items.c.id)
                .limit(50)
            )
            return ItemPage(data=[ItemRead(id=r[0], name=r[1], email=r[2], created_at=r[3]) for r in rows])

    @app.get("/v1/events", response_model=EventPage)
    def list_events(authorization: Annotated[str | None, Header()] = None) -> EventPage:
        with Session(engine) as session, session.begin():
            org = organization(session, authorization)
            rows = session.execute(
                text("SELECT payload FROM events WHERE organization_id = :o ORDER BY seq LIMIT 100"), {"o": org}
            )
            return EventPage(data=[json.loads(r[0]) for r in rows])

    return app


def serve_minimal(url: str, port: int) -> None:
    import uvicorn

    uvicorn.run(minimal_app(url), host="127.0.0.1", port=port, log_level="warning", http="h11")


# --- the load generator (its own process) ---------------------------------------------------------------------


def _load_main(base: str, key: str, method: str, path: str, concurrency: int, duration: float, out: Any) -> None:
    import aiohttp

    async def main() -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {key}"}
        counts = {"ok": 0, "bad": 0, "first_bad": ""}
        measuring = False
        deadline = time.monotonic() + WARMUP + duration
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(base, connector=connector, headers=headers) as client:

            async def one() -> None:
                while time.monotonic() < deadline:
                    body = None
                    if method == "POST":
                        tag = uuid.uuid4().hex
                        body = {"name": f"Dev {tag[:8]}", "email": f"{tag}@example.com"}
                    async with client.request(method, path, json=body) as resp:
                        await resp.read()
                        if not measuring or time.monotonic() >= deadline:
                            continue
                        if 200 <= resp.status < 300:
                            counts["ok"] += 1
                        else:
                            counts["bad"] += 1
                            counts["first_bad"] = counts["first_bad"] or f"{resp.status} {(await resp.text())[:200]}"

            tasks = [asyncio.create_task(one()) for _ in range(concurrency)]
            await asyncio.sleep(WARMUP)
            measuring = True
            out.put(("start", time.monotonic()))
            await asyncio.sleep(max(0.0, deadline - time.monotonic()))
            out.put(("end", time.monotonic()))
            await asyncio.gather(*tasks)
        return counts

    out.put(("counts", asyncio.run(main())))


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(server: Server, key: str, endpoint: str, concurrency: int, duration: float) -> dict[str, float]:
    method, path = ENDPOINTS[endpoint]
    out: Any = mp.Queue()
    proc = mp.Process(target=_load_main, args=(server.base, key, method, path, concurrency, duration, out))
    proc.start()
    _, t0 = out.get(timeout=60)
    cpu0 = _cpu_seconds(server.pid)
    _, t1 = out.get(timeout=60 + duration)
    cpu1 = _cpu_seconds(server.pid)
    _, counts = out.get(timeout=60)
    proc.join(30)
    if counts["bad"]:
        raise SystemExit(f"{server.name} {endpoint}: {counts['bad']} non-2xx answers, first: {counts['first_bad']}")
    n = counts["ok"]
    return {"rps": n / (t1 - t0), "cpu_ms": 1000 * (cpu1 - cpu0) / max(n, 1), "n": n}


# --- servers ----------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        argv = [a.replace("{port}", str(self.port)) for a in argv]
        self.proc = subprocess.Popen(argv, env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.DEVNULL)
        self.pid = self.proc.pid
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.base}/v1/developers", timeout=2):
                    pass
            except urllib.error.HTTPError:
                break  # 401: it answers
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{name} server did not start") from None
                time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _database(backend: str, admin_url: str, path: Path) -> tuple[str, Any]:
    if backend == "sqlite":
        return f"sqlite:///{path}", lambda: None
    import psycopg

    name = f"gp_bench_api_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return admin_url.rsplit("/", 1)[0] + "/" + name, drop


def _seed(server: Server, key: str, n: int) -> None:
    for _ in range(n):
        tag = uuid.uuid4().hex
        body = json.dumps({"name": f"Seed {tag[:8]}", "email": f"{tag}@example.com"}).encode()
        req = urllib.request.Request(
            f"{server.base}/v1/developers",
            data=body,
            method="POST",
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=30):
                pass
        except urllib.error.HTTPError as exc:
            raise SystemExit(f"{server.name}: seeding failed: {exc.code} {exc.read()[:300]!r}") from None


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def run_backend(backend: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="gp-bench-api-") as tmp:
        url, drop = _database(backend, args.postgres, Path(tmp) / "bench.db")
        env = {
            "GITPRODUCTIVITY_DATABASE_URL": url,
            "GITPRODUCTIVITY_DATA_DIR": tmp,
            "GITPRODUCTIVITY_RATE_LIMIT_PER_MINUTE": "0",
            "GITPRODUCTIVITY_LOG_LEVEL": "WARNING",
        }
        servers: list[Server] = []
        try:
            before_cli = [sys.executable, "-c", "from gitproductivity.cli import main; main()"]
            before_env = {**env, "PYTHONPATH": args.before or ""}
            # With --before, the older tree makes the database and starts first (its `serve` would refuse a
            # revision it does not know); ours then upgrades the same database, so both serve the same rows.
            cli = before_cli if args.before else [str(VENV_BIN / "gitproductivity")]
            init = subprocess.run(
                [*cli, "init", "--email", "bench@example.com", "--json"],
                env={**os.environ, **(before_env if args.before else env)},
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            key = json.loads(init.stdout)["api_key"]
            if args.before:  # the same command run from another source tree (a `git archive` of an older commit)
                servers.append(Server("before", [*before_cli, "serve", "--no-workers", "--port", "{port}"], before_env))
            ours = Server("ours", [str(VENV_BIN / "gitproductivity"), "serve", "--no-workers", "--port", "{port}"], env)
            servers.append(ours)
            minimal = Server("minimal", [sys.executable, __file__, "--serve-minimal", url, "{port}"], env)
            servers.append(minimal)
            if args.developers:
                from api_seed import seed_developers  # next to this file; imports the service's models

                seed_developers(url, args.developers)
            for server in servers:
                _seed(server, key, 120)  # the read endpoints have full pages from the start
            for run in range(args.runs):
                for endpoint in args.endpoints:
                    for concurrency in args.concurrency:
                        pair = {}
                        for server in servers if run % 2 == 0 else servers[::-1]:
                            pair[server.name] = measure(server, key, endpoint, concurrency, args.duration)
                        row = {"backend": backend, "endpoint": endpoint, "concurrency": concurrency, "run": run, **pair}
                        results.append(row)
                        print(
                            f"  {backend:8} {endpoint:16} c={concurrency:<3} run {run + 1}: "
                            f"minimal {pair['minimal']['rps']:7.1f}/s {pair['minimal']['cpu_ms']:5.2f} ms  "
                            f"ours {pair['ours']['rps']:7.1f}/s {pair['ours']['cpu_ms']:5.2f} ms  "
                            f"ratio {pair['ours']['rps'] / pair['minimal']['rps']:.2f}"
                            + (
                                f"  before {pair['before']['rps']:7.1f}/s {pair['before']['cpu_ms']:5.2f} ms "
                                f"ratio {pair['before']['rps'] / pair['minimal']['rps']:.2f}"
                                if "before" in pair
                                else ""
                            ),
                            flush=True,
                        )
        finally:
            for server in servers:
                server.stop()
            drop()
    return results


def summary(results: list[dict[str, Any]]) -> None:
    print()
    before = "before" in results[0]
    extra = " before req/s | ratio before | CPU/req before |" if before else ""
    print("| database | endpoint | c | minimal req/s | ours req/s | ratio | CPU/req minimal | CPU/req ours |" + extra)
    print("|---|---|---|---|---|---|---|---|" + ("---|---|---|" if before else ""))
    cells: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for row in results:
        cells.setdefault((row["backend"], row["endpoint"], row["concurrency"]), []).append(row)
    for (backend, endpoint, concurrency), rows in cells.items():

        def med(name: str, field: str, rows: list[dict[str, Any]] = rows) -> float:
            return statistics.median(r[name][field] for r in rows)

        ratio = statistics.median(r["ours"]["rps"] / r["minimal"]["rps"] for r in rows)
        print(
            f"| {backend} | {ENDPOINTS[endpoint][0]} {ENDPOINTS[endpoint][1]} | {concurrency} | "
            f"{med('minimal', 'rps'):.0f} | {med('ours', 'rps'):.0f} | {ratio:.2f} | "
            f"{med('minimal', 'cpu_ms'):.2f} ms | {med('ours', 'cpu_ms'):.2f} ms |"
            + (
                f" {med('before', 'rps'):.0f} | "
                f"{statistics.median(r['before']['rps'] / r['minimal']['rps'] for r in rows):.2f} | "
                f"{med('before', 'cpu_ms'):.2f} ms |"
                if before
                else ""
            )
        )


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve-minimal":
        serve_minimal(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per cell")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS))
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1/postgres")
    parser.add_argument(
        "--before",
        metavar="SRC",
        help="also run `serve` from this source directory (e.g. `git archive <commit> src | tar -x -C /tmp/b`, "
        "then /tmp/b/src), interleaved with the others: before and after in the same run",
    )
    parser.add_argument("--developers", type=int, default=0, help="add N developers (and N minimal rows) first")
    args = parser.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    args.endpoints = [e for e in args.endpoints.split(",") if e]
    unknown = [e for e in args.endpoints if e not in ENDPOINTS]
    if unknown:
        raise SystemExit(f"unknown endpoint(s): {', '.join(unknown)}; known: {', '.join(ENDPOINTS)}")
    print(f"load before: {_uptime()}", flush=True)
    results: list[dict[str, Any]] = []
    for backend in args.backends.split(","):
        results.extend(run_backend(backend, args))
    print(f"load after:  {_uptime()}")
    summary(results)


if __name__ == "__main__":
    main()
