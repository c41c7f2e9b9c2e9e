"""The server under analysis load: does `/healthz` stay quick and do webhooks keep flowing while `serve` analyses
a history the size of git/git?

    .venv/bin/python benchmarks/analysis_load.py [--repo PATH] [--commits 80000] [--pythonpath SRC]

1. A repository of `--commits` commits is made with `benchmarks/gen_repo.py` (once; `--repo` reuses it).
2. `gitproductivity serve` starts on SQLite in a fresh directory, with a webhook endpoint (subscribed to
   `developer.added`) at a receiver that runs in this process on 127.0.0.1 and notes when each POST arrives.
3. The repository is connected (which queues its full analysis); while the analysis runs:
   - `/healthz` is requested every 50 ms (one request at a time; latency from send to the full answer);
   - every 500 ms a developer is added through the API (`POST /v1/developers`): its `developer.added` event goes
     through the outbox and the dispatcher, and its delivery latency is from the API call to the receiver
     seeing the POST.
4. When the analysis has finished, the figures are printed: analysis time, `/healthz` p50/p99/max, deliveries
   made during the analysis and their latency p50/p99/max, and the load average before and after.

`--pythonpath SRC` runs the server from another source tree (e.g. an export of an older commit, to measure
the in-process analysis that preceded `analysis.child` side by side). docs/benchmarks.md has the write-up.
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
EXE = str(Path(sys.executable).with_name("gitproductivity"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver(http.server.ThreadingHTTPServer):
    arrivals: dict[str, float]


class Hook(http.server.BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        now = time.monotonic()
        try:
            data = json.loads(body)["data"]
            self.server.arrivals.setdefault(str(data.get("email", "")), now)
        except (ValueError, KeyError, TypeError):
            pass
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


def request(port: int, method: str, path: str, key: str = "", body: Any = None, timeout: float = 30) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"} if key else {}
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        resp = conn.getresponse()
        text = resp.read()
        if resp.status >= 400:
            raise RuntimeError(f"{method} {path}: {resp.status} {text[:300]!r}")
        return json.loads(text) if text else None
    finally:
        conn.close()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, default=Path(tempfile.gettempdir()) / "gp-bench-load-repo.git")
    parser.add_argument("--commits", type=int, default=80_000)
    parser.add_argument("--pythonpath", type=Path, default=None, help="run the server from this source tree")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server (repeatable)")
    parser.add_argument("--timeout", type=float, default=1800, help="give up after this many seconds")
    args = parser.parse_args()

    if not (args.repo / "HEAD").is_file():
        print(f"generating {args.commits} commits into {args.repo} (git fast-import) ...", flush=True)
        subprocess.run([sys.executable, str(HERE / "gen_repo.py"), str(args.repo), str(args.commits)], check=True)
    count = subprocess.run(
        ["git", "-C", str(args.repo), "rev-list", "--count", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()

    receiver = Receiver(("127.0.0.1", 0), Hook)
    receiver.arrivals = {}
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook_port = receiver.server_address[1]

    work = Path(tempfile.mkdtemp(prefix="gp-load-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITPRODUCTIVITY_")}
    env.update(
        {
            "GITPRODUCTIVITY_DATABASE_URL": f"sqlite:///{work}/gp.db",
            "GITPRODUCTIVITY_DATA_DIR": str(work / "data"),
            "GITPRODUCTIVITY_WEBHOOK_ALLOW_PRIVATE_DESTINATIONS": "true",
            "GITPRODUCTIVITY_ANALYSIS_RECHECK_INTERVAL": "0",
            "GITPRODUCTIVITY_RATE_LIMIT_PER_MINUTE": "0",
            "GITPRODUCTIVITY_LOG_LEVEL": "WARNING",
        }
    )
    env.update(dict(item.split("=", 1) for item in args.env))
    if args.pythonpath:
        env["PYTHONPATH"] = str(args.pythonpath)
    init = subprocess.run(
        [EXE, "init", "--email", "bench@example.com", "--json"], env=env, capture_output=True, text=True, check=True
    )
    key = json.loads(init.stdout)["api_key"]
    log = open(work / "serve.log", "wb")  # noqa: SIM115 (closed at the end)
    server = subprocess.Popen([EXE, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                request(port, "GET", "/healthz", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit(f"serve did not start; see {work / 'serve.log'}") from None
                time.sleep(0.2)
        request(
            port,
            "POST",
            "/v1/webhooks",
            key,
            {"url": f"http://127.0.0.1:{hook_port}/hook", "events": ["developer.added"]},
        )
        load_before = os.getloadavg()
        repo = request(port, "POST", "/v1/repositories", key, {"url": str(args.repo)})
        started = time.monotonic()

        stop = threading.Event()
        health: list[float] = []
        sent: dict[str, float] = {}

        def poll_health() -> None:
            while not stop.is_set():
                t0 = time.monotonic()
                try:
                    request(port, "GET", "/healthz", timeout=60)
                    health.append(time.monotonic() - t0)
                except OSError:
                    health.append(float("inf"))
                time.sleep(max(0.0, 0.05 - (time.monotonic() - t0)))

        def add_developers() -> None:
            n = 0
            while not stop.is_set():
                n += 1
                email = f"load-{n}@example.com"
                sent[email] = time.monotonic()
                try:
                    request(port, "POST", "/v1/developers", key, {"name": f"Load {n}", "email": email}, timeout=60)
                except (OSError, RuntimeError) as exc:
                    print(f"  add developer failed: {exc}", flush=True)
                stop.wait(0.5)

        threads = [threading.Thread(target=poll_health), threading.Thread(target=add_developers)]
        for thread in threads:
            thread.start()
        status = "queued"
        analysis: dict[str, Any] = {}
        while time.monotonic() - started < args.timeout:
            time.sleep(1)
            page = request(port, "GET", f"/v1/repositories/{repo['id']}/analyses", key, timeout=60)
            if page["data"]:
                analysis = page["data"][0]
                status = analysis["status"]
                if status in ("succeeded", "failed"):
                    break
        elapsed = time.monotonic() - started
        stop.set()
        for thread in threads:
            thread.join()
        time.sleep(3)  # the last deliveries
        load_after = os.getloadavg()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        receiver.shutdown()

    latencies = [receiver.arrivals[e] - t for e, t in sent.items() if e in receiver.arrivals]
    finite = [h for h in health if h != float("inf")]
    print(f"server: {'source ' + str(args.pythonpath) if args.pythonpath else 'this checkout'} {' '.join(args.env)}")
    print(f"repository: {count} commits ({args.repo})")
    print(f"analysis: {status} in {elapsed:.1f} s ({analysis.get('commits_analysed')} commits analysed)")
    print(
        f"  git fetch {analysis.get('fetch_ms')} ms, read {analysis.get('read_ms')} ms, "
        f"store (one transaction) {analysis.get('store_ms')} ms"
    )
    if status != "succeeded":
        print(f"  error: {analysis.get('error')}")
    print(
        f"/healthz during the analysis: {len(health)} requests, p50 {percentile(finite, 0.5) * 1000:.0f} ms, "
        f"p99 {percentile(finite, 0.99) * 1000:.0f} ms, max {max(finite, default=0) * 1000:.0f} ms, "
        f"failed {len(health) - len(finite)}"
    )
    print(
        f"deliveries during the analysis: {len(latencies)} of {len(sent)} received, latency p50 "
        f"{percentile(latencies, 0.5) * 1000:.0f} ms, p99 {percentile(latencies, 0.99) * 1000:.0f} ms, "
        f"max {max(latencies, default=0) * 1000:.0f} ms"
    )
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (2 cores: {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
