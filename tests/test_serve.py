"""`gitproductivity serve` as a newcomer runs it: a fresh SQLite file, first-start bootstrap, a live server."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import wait_until_serving

pytestmark = pytest.mark.slow  # starts `gitproductivity serve` processes

EXE = str(Path(sys.executable).with_name("gitproductivity"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_bootstraps_and_answers(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "GITPRODUCTIVITY_DATA_DIR": str(tmp_path / "data"),
        "GITPRODUCTIVITY_PORT": str(port),
    }
    env.pop("GITPRODUCTIVITY_DATABASE_URL", None)
    proc = subprocess.Popen(
        [EXE, "serve"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output = ""
    try:
        wait_until_serving(f"http://127.0.0.1:{port}", proc)
        assert (tmp_path / "gitproductivity.db").exists()  # the default: ./gitproductivity.db
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0]
    # uvicorn re-raises the signal after a graceful shutdown
    assert proc.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output
    assert "First start" in output
    key = re.search(r"API key\s+(gpk_\S+)", output)
    assert key is not None, output
    assert "Traceback" not in output


def test_serve_leaves_the_workers_to_worker_processes_when_told(tmp_path: Path) -> None:
    """GITPRODUCTIVITY_RUN_WORKERS_IN_SERVER=false: the API process runs no dispatcher (`gitproductivity worker`
    processes do that work), exactly as with --no-workers."""
    port = free_port()
    env = {
        **os.environ,
        "GITPRODUCTIVITY_DATA_DIR": str(tmp_path / "data"),
        "GITPRODUCTIVITY_PORT": str(port),
        "GITPRODUCTIVITY_LOG_LEVEL": "INFO",
        "GITPRODUCTIVITY_RUN_WORKERS_IN_SERVER": "false",
    }
    env.pop("GITPRODUCTIVITY_DATABASE_URL", None)
    proc = subprocess.Popen(
        [EXE, "serve"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}", proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0]
    assert "Application startup complete" in output
    assert "worker running" not in output and "webhook dispatcher started" not in output, output
