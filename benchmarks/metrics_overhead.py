"""Cost of the request counter (`observability.RequestMetrics`) per request, measured on the ASGI app itself.

    .venv/bin/python benchmarks/metrics_overhead.py [--requests 20000] [--rounds 5]

Drives a FastAPI app with one route (`GET /things/{thing_id}`) through ASGI calls in one event loop (no
sockets, no server: what is left is the framework's own work per request), with and without the counter, and
prints the best round's CPU microseconds per request for each and the difference. A server adds its HTTP parsing
and the socket on top, so the difference is an upper bound of the counter's share of a real request.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any

from fastapi import FastAPI

from gitproductivity.observability import RequestMetrics


def make_app() -> FastAPI:
    app = FastAPI()

    @app.get("/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    return app


async def drive(app: Any, n: int) -> float:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    started = time.process_time()  # this process's CPU: the machine's other load does not count
    for i in range(n):
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
            "path": f"/things/t{i}", "raw_path": f"/things/t{i}".encode(), "query_string": b"", "root_path": "",
            "headers": [(b"host", b"bench")], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
        }  # fmt: skip
        await app(scope, receive, send)
    return (time.process_time() - started) / n * 1e6


async def main(requests: int, rounds: int) -> None:
    bare = make_app()
    counted = make_app()
    counted.add_middleware(RequestMetrics)
    await drive(bare, 500)  # warm both (route compilation, the middleware stack)
    await drive(counted, 500)
    best = {"bare": float("inf"), "counted": float("inf")}
    for _ in range(rounds):
        best["bare"] = min(best["bare"], await drive(bare, requests))
        best["counted"] = min(best["counted"], await drive(counted, requests))
    print(f"requests per round {requests}, rounds {rounds}, load {os.getloadavg()[0]:.1f}")
    print(f"without counter  {best['bare']:8.1f} us/request")
    print(f"with counter     {best['counted']:8.1f} us/request")
    diff = best["counted"] - best["bare"]
    print(f"difference       {diff:8.1f} us/request ({diff / best['bare'] * 100:.1f}%)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.rounds))
