"""Where an API request's time goes: direct ASGI calls in one loop, no server and no sockets, under cProfile.

    .venv/bin/python benchmarks/api_profile.py [--backend sqlite|postgres] [--requests 2000]
        [--endpoint post-developers|get-developers|get-events] [--top 40] [--postgres URL] [--minimal]
        [--developers N]

The app is `create_app(run_workers=False)` on a fresh database (SQLite file or a scratch PostgreSQL database,
dropped afterwards), rate limit off, called the way uvicorn calls it (scope, receive, send) one request at a time
(the route's worker-thread hop included). Printed: the CPU time per request with and without the profiler, the
SQL statements each request sends (every one is a round trip on PostgreSQL; the pool's `pre_ping` and the
driver's BEGIN/COMMIT are counted apart), then the profile (cumulative and own time). `--minimal` profiles the
minimal app of `benchmarks/api.py` instead, on the same kind of database. docs/benchmarks.md has the findings.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from api import ENDPOINTS, _database, minimal_app
from api_seed import seed_developers

VENV_BIN = Path(sys.executable).parent


def _asgi_call(method: str, path: str, key: str, body: bytes | None) -> tuple[Any, Any, Any, Any]:
    headers = [(b"host", b"bench"), (b"authorization", f"Bearer {key}".encode())]
    if body is not None:
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body or b"", "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    return scope, receive, send, lambda: (status, b"".join(chunks))


async def _run(app: Any, method: str, path: str, key: str, n: int) -> None:
    for _ in range(n):
        body = None
        if method == "POST":
            tag = uuid.uuid4().hex
            body = json.dumps({"name": f"Dev {tag[:8]}", "email": f"{tag}@example.com"}).encode()
        scope, receive, send, result = _asgi_call(method, path, key, body)
        await app(scope, receive, send)
        status, payload = result()
        if not 200 <= status < 300:
            raise SystemExit(f"{method} {path}: {status} {payload[:300]!r}")


def _inline_threadpool() -> None:
    """Run what would go to a worker thread in the calling thread, so cProfile (one thread) sees it: the hop's own
    cost drops out of the profile (it is measured with `--threads`)."""
    import fastapi.dependencies.utils
    import fastapi.routing

    from gitproductivity.developers import api as developers_api
    from gitproductivity.events import api as events_api
    from gitproductivity.orgs import auth

    async def inline(func: Any, *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    for module in (developers_api, events_api, auth, fastapi.routing, fastapi.dependencies.utils):
        if hasattr(module, "run_in_threadpool"):
            module.run_in_threadpool = inline  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="sqlite", choices=("sqlite", "postgres"))
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--endpoint", default="post-developers", choices=list(ENDPOINTS))
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1/postgres")
    parser.add_argument("--minimal", action="store_true")
    parser.add_argument("--developers", type=int, default=0, help="add N developers (api_seed.py) first")
    parser.add_argument("--dump", help="also write the profile (pstats) to this file")
    parser.add_argument("--sort", default="cumulative,tottime")
    parser.add_argument(
        "--threads",
        dest="inline",
        action="store_false",
        help="keep the worker-thread hops (cProfile then sees only the event loop's thread)",
    )
    args = parser.parse_args()
    method, path = ENDPOINTS[args.endpoint]
    with tempfile.TemporaryDirectory(prefix="gp-bench-prof-") as tmp:
        url, drop = _database(args.backend, args.postgres, Path(tmp) / "bench.db")
        try:
            env = {
                "GITPRODUCTIVITY_DATABASE_URL": url,
                "GITPRODUCTIVITY_DATA_DIR": tmp,
                "GITPRODUCTIVITY_RATE_LIMIT_PER_MINUTE": "0",
                "GITPRODUCTIVITY_LOG_LEVEL": "WARNING",
            }
            os.environ.update(env)
            init = subprocess.run(
                [str(VENV_BIN / "gitproductivity"), "init", "--email", "bench@example.com", "--json"],
                capture_output=True,
                text=True,
                check=True,
            )
            key = json.loads(init.stdout)["api_key"]
            from sqlalchemy import event

            from gitproductivity.app import create_app
            from gitproductivity.core.db import get_database

            app: Any = minimal_app(url) if args.minimal else create_app(run_workers=False)
            if args.inline:
                _inline_threadpool()
            if args.developers:
                seed_developers(url, args.developers)
            statements: list[str] = []
            engine = get_database().engine
            if args.minimal:
                engine = None  # the minimal app's own engine is not reachable; no statement count for it
            if engine is not None:

                @event.listens_for(engine, "before_cursor_execute")
                def _count(_conn: Any, _cursor: Any, statement: str, *_a: Any) -> None:
                    statements.append(statement.split(None, 1)[0].upper())

                @event.listens_for(engine, "checkout")
                def _checkout(*_a: Any) -> None:
                    statements.append("(pool checkout: pre_ping)" if engine.pool._pre_ping else "(pool checkout)")

                @event.listens_for(engine, "commit")
                def _commit(*_a: Any) -> None:
                    statements.append("(COMMIT)")

            async def warm() -> None:
                await _run(app, "POST", "/v1/developers", key, 120)  # full pages for the reads
                await _run(app, method, path, key, 50)

            asyncio.run(warm())
            statements.clear()
            cpu0 = time.process_time()
            asyncio.run(_run(app, method, path, key, args.requests))
            plain = (time.process_time() - cpu0) / args.requests
            per_request: dict[str, float] = {}
            for word in statements:
                per_request[word] = per_request.get(word, 0) + 1 / args.requests
            profiler = cProfile.Profile()
            cpu0 = time.process_time()
            profiler.enable()
            asyncio.run(_run(app, method, path, key, args.requests))
            profiler.disable()
            profiled = (time.process_time() - cpu0) / args.requests
            print(f"{'minimal' if args.minimal else 'ours'} {args.backend} {method} {path}: {args.requests} requests")
            print(f"CPU per request: {plain * 1000:.2f} ms (under the profiler {profiled * 1000:.2f} ms)")
            if per_request:
                print(
                    "SQL statements per request: "
                    + ", ".join(f"{k} {v:.2f}" for k, v in sorted(per_request.items(), key=lambda kv: -kv[1]))
                )
            stats = pstats.Stats(profiler)
            stats.sort_stats(*args.sort.split(",")).print_stats(args.top)
            stats.sort_stats("tottime").print_stats(args.top)
            if args.dump:
                profiler.dump_stats(args.dump)
        finally:
            if "gitproductivity.core.db" in sys.modules:
                sys.modules["gitproductivity.core.db"].get_database().dispose()
            drop()


if __name__ == "__main__":
    main()
