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

from tests.conftest import inherited_env, wait_until_serving
from tests.netutil import listening_socket, port_of, serve_command

pytestmark = pytest.mark.slow  # starts `gitproductivity serve` processes

EXE = str(Path(sys.executable).with_name("gitproductivity"))


def test_serve_bootstraps_and_answers(tmp_path: Path) -> None:
    sock = listening_socket()
    port = port_of(sock)
    env = {**os.environ, "GITPRODUCTIVITY_DATA_DIR": str(tmp_path / "data")}
    env.pop("GITPRODUCTIVITY_DATABASE_URL", None)
    argv, keywords = serve_command(sock)
    proc = subprocess.Popen(
        argv, **keywords, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output = ""
    try:
        wait_until_serving(f"http://127.0.0.1:{port}", proc)
        assert (tmp_path / "gitproductivity.db").exists()  # the default: ./gitproductivity.db
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0]
        sock.close()
    # uvicorn re-raises the signal after a graceful shutdown
    assert proc.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output
    assert f"GitProductivity on http://127.0.0.1:{port} " in output  # the inherited socket's address
    assert "First start" in output
    key = re.search(r"API key\s+(gpk_\S+)", output)
    assert key is not None, output
    assert "Traceback" not in output


def test_serve_leaves_the_workers_to_worker_processes_when_told(tmp_path: Path) -> None:
    """GITPRODUCTIVITY_RUN_WORKERS_IN_SERVER=false: the API process runs no dispatcher (`gitproductivity worker`
    processes do that work), exactly as with --no-workers."""
    sock = listening_socket()
    env = {
        **os.environ,
        "GITPRODUCTIVITY_DATA_DIR": str(tmp_path / "data"),
        "GITPRODUCTIVITY_LOG_LEVEL": "INFO",
        "GITPRODUCTIVITY_RUN_WORKERS_IN_SERVER": "false",
    }
    env.pop("GITPRODUCTIVITY_DATABASE_URL", None)
    argv, keywords = serve_command(sock)
    proc = subprocess.Popen(
        argv, **keywords, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port_of(sock)}", proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0]
        sock.close()
    assert "Application startup complete" in output
    assert "worker running" not in output and "webhook dispatcher started" not in output, output


def test_serve_refuses_an_fd_that_is_not_a_listening_socket(tmp_path: Path) -> None:
    env = inherited_env()
    env["GITPRODUCTIVITY_DATA_DIR"] = str(tmp_path / "data")
    plain = tmp_path / "plain.txt"
    plain.write_text("not a socket")
    with plain.open() as file, socket.socket() as unbound, listening_socket() as sock:
        cases = {
            "--fd 0 --port 8000": ("--fd serves on an inherited socket: leave out --host and --port", ()),
            f"--fd {file.fileno()}": (f"--fd {file.fileno()}: not an open socket", (file.fileno(),)),
            f"--fd {unbound.fileno()}": (f"--fd {unbound.fileno()}: not a listening TCP socket", (unbound.fileno(),)),
            f"--fd {sock.fileno()} --host 127.0.0.1": ("leave out --host and --port", (sock.fileno(),)),
        }
        for args, (message, fds) in cases.items():
            done = subprocess.run(
                [EXE, "serve", *args.split()], cwd=tmp_path, env=env, pass_fds=fds, capture_output=True, text=True
            )
            assert done.returncode != 0, (args, done.stdout, done.stderr)
            assert message in done.stderr, (args, done.stderr)
            assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "gitproductivity.db").exists()  # refused before anything was set up
