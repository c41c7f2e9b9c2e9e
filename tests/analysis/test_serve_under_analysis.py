"""Issue 12, finding 1 as it was reported: a repository whose `.gitattributes` has one line of many stars, connected
to a running `gitproductivity serve`, froze the whole server (`/healthz` answered after 50.8 s). Now the pattern is
matched in bounded time and the analysis runs in a child process: `/healthz` answers throughout."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.analysis.gitrepo import Repo, lines
from tests.analysis.test_hostile_patterns import NEAR_MISS, STARS
from tests.conftest import Tenant, inherited_env, wait_until_serving
from tests.netutil import listening_socket, port_of, serve_command

pytestmark = pytest.mark.slow  # starts `gitproductivity serve` and polls it while it analyses

EXE = str(Path(sys.executable).with_name("gitproductivity"))


def test_serve_keeps_answering_while_it_analyses_a_hostile_repository(
    database_url: str, tenant: Tenant, tmp_path: Path
) -> None:
    repo = Repo(tmp_path / "hostile")
    files = {f"d{i}/{NEAR_MISS}{'a' * i}": lines(2) for i in range(3)}  # each name froze the old server ~50 s
    repo.commit("Jane <jane@example.com>", "2026-03-01T10:00:00Z", {".gitattributes": f"{STARS} linguist-generated\n"})
    for i, (name, content) in enumerate(files.items()):
        repo.commit("Jane <jane@example.com>", f"2026-03-0{i + 2}T10:00:00Z", {name: content})
    sock = listening_socket()
    base = f"http://127.0.0.1:{port_of(sock)}"
    env = inherited_env()
    env.update(
        {
            "GITPRODUCTIVITY_DATABASE_URL": database_url,
            "GITPRODUCTIVITY_DATA_DIR": str(tmp_path / "data"),
            "GITPRODUCTIVITY_ANALYSIS_POLL_INTERVAL": "0.2",
        }
    )
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        argv, keywords = serve_command(sock)
        proc = subprocess.Popen(argv, **keywords, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    latencies: list[float] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=10) as resp:
                    assert resp.status == 200
                latencies.append(time.monotonic() - started)
            except OSError:
                latencies.append(float("inf"))
            stop.wait(0.05)

    def api(method: str, path: str, body: object = None) -> dict[str, object]:
        request = urllib.request.Request(
            base + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={**tenant.headers, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as resp:
            result: dict[str, object] = json.loads(resp.read())
            return result

    poller = threading.Thread(target=poll)
    try:
        wait_until_serving(base, proc, describe=log.read_text)
        poller.start()
        connected = api("POST", "/v1/repositories", {"url": str(repo.path)})
        deadline = time.monotonic() + 60
        status = "queued"
        while status not in ("succeeded", "failed") and time.monotonic() < deadline:
            time.sleep(0.2)
            page = api("GET", f"/v1/repositories/{connected['id']}/analyses")
            data = page["data"]
            assert isinstance(data, list)
            status = data[0]["status"] if data else "queued"
    finally:
        stop.set()
        if poller.is_alive():
            poller.join()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        sock.close()
    assert status == "succeeded", log.read_text()
    assert latencies and max(latencies) < 2.0, f"slowest /healthz {max(latencies):.1f} s"  # generous; was 50 s
    assert "Traceback" not in log.read_text()
