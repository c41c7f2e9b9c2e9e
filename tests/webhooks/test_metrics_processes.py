"""Multi-process `/metrics`: `serve --no-workers` and a `gitproductivity worker` sharing PROMETHEUS_MULTIPROC_DIR;
the API process's `/metrics` counts the attempt the worker process made."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import wait_until_serving
from tests.netutil import listening_socket, port_of, serve_command
from tests.webhooks.conftest import Receiver, wait_for

pytestmark = pytest.mark.slow  # starts `gitproductivity serve` and `worker` processes

EXE = str(Path(sys.executable).with_name("gitproductivity"))


def _call(url: str, key: str, method: str = "GET", body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Authorization": f"Bearer {key}"})
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as resp:
        text = resp.read().decode()
    return json.loads(text) if text.startswith(("{", "[")) else text


def _succeeded(metrics: str) -> float:
    return sum(
        s.value
        for f in text_string_to_metric_families(metrics)
        for s in f.samples
        if s.name == "gitproductivity_webhook_attempts_total" and s.labels["outcome"] == "succeeded"
    )


def test_the_api_process_counts_what_worker_processes_sent(tmp_path: Path, receiver: Receiver) -> None:
    sock = listening_socket()  # held by the test, passed to `serve --fd`: no port is freed and reused
    port = port_of(sock)
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {
        **os.environ,
        "GITPRODUCTIVITY_DATA_DIR": str(tmp_path / "data"),
        "GITPRODUCTIVITY_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "PROMETHEUS_MULTIPROC_DIR": str(shared),
    }
    env.pop("GITPRODUCTIVITY_DATABASE_URL", None)
    server_log, worker_log = tmp_path / "serve.log", tmp_path / "worker.log"
    with server_log.open("w") as out:
        argv, fds = serve_command(sock, "--no-workers")
        server = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=out, stderr=out, **fds)
    worker: subprocess.Popen[bytes] | None = None
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, server, describe=server_log.read_text)
        found = re.search(r"API key\s+(gpk_\S+)", server_log.read_text())
        assert found is not None, server_log.read_text()
        key = found.group(1)
        with worker_log.open("w") as out:
            worker = subprocess.Popen([EXE, "worker"], cwd=tmp_path, env=env, stdout=out, stderr=out)
        _call(f"{base}/v1/webhooks", key, "POST", {"url": receiver.url("/ok"), "events": ["developer.added"]})
        _call(f"{base}/v1/developers", key, "POST", {"name": "Jane Doe", "email": "jane@example.com"})
        wait_for(
            lambda: [r for r in receiver.on("/ok") if r.headers["X-GitProductivity-Event"] == "developer.added"],
            timeout=30,
            what="the worker's delivery",
        )

        def counted() -> float:
            return _succeeded(_call(f"{base}/metrics", key))

        # The test webhook was POSTed by the API process, the event's delivery by the worker process: both count.
        assert wait_for(lambda: counted() == 2, timeout=10, what="both attempts in /metrics")
    finally:
        for proc in (worker, server):
            if proc is not None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
        sock.close()
    assert len(list(shared.glob("counter_*.db"))) >= 2  # one file per process that counted
