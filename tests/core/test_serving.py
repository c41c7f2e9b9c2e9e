"""Finding 12 of issue 12: slow clients. A real `gitproductivity serve` and real sockets on 127.0.0.1: connections
that dribble their headers (slowloris) or their body are closed within the configured bounds, connections over
the cap are refused at once, and a normal client is served all the while."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import wait_until_serving
from tests.netutil import listening_socket, port_of, serve_command

pytestmark = [
    pytest.mark.slow,  # starts `gitproductivity serve` and waits out its real read deadlines
    # One backend: the deadlines live in the HTTP protocol, below anything the database does.
    pytest.mark.parametrize("backend", ["sqlite"]),
]

EXE = str(Path(sys.executable).with_name("gitproductivity"))
HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0
MAX_CONNECTIONS = 150
SLOW = 100  # connections per attack, as in the report


@dataclass
class Served:
    host: str
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[Served]:
    sock = listening_socket()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITPRODUCTIVITY_")}
    env.update(
        GITPRODUCTIVITY_DATABASE_URL=database_url,
        GITPRODUCTIVITY_DATA_DIR=str(tmp_path / "data"),
        GITPRODUCTIVITY_LOG_LEVEL="WARNING",
        GITPRODUCTIVITY_HTTP_HEADER_TIMEOUT=str(HEADER_TIMEOUT),
        GITPRODUCTIVITY_HTTP_BODY_TIMEOUT=str(BODY_TIMEOUT),
        GITPRODUCTIVITY_HTTP_MAX_CONNECTIONS=str(MAX_CONNECTIONS),
    )
    log = tmp_path / "server.log"
    with log.open("w") as out:
        argv, keywords = serve_command(sock, "--no-workers")
        proc = subprocess.Popen(
            argv,
            **keywords,
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    served = Served("127.0.0.1", port_of(sock), log)
    try:
        wait_until_serving(served.url, proc, timeout=30, describe=log.read_text)
        yield served
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        sock.close()
    assert "Traceback" not in log.read_text()


@dataclass
class Slow:
    sock: socket.socket
    opened: float
    payload: bytes
    sent: int = 0
    closed_after: float | None = None
    answer: bytes = b""


def _open(served: Served, prefix: bytes, payload: bytes) -> Slow:
    sock = socket.create_connection((served.host, served.port), timeout=5)
    if prefix:
        sock.sendall(prefix)
    return Slow(sock, time.monotonic(), payload)


def _dribble(conns: list[Slow], served: Served, *, for_seconds: float, step: float = 0.25) -> list[float]:
    """Send each connection one more byte every `step` s, note when the server closes it; meanwhile a normal
    client asks for /healthz every second. Returns the normal client's latencies."""
    latencies: list[float] = []
    end = time.monotonic() + for_seconds
    next_normal = time.monotonic() + 0.5
    while time.monotonic() < end and any(c.closed_after is None for c in conns):
        for c in conns:
            if c.closed_after is not None:
                continue
            try:
                c.sock.send(c.payload[c.sent % len(c.payload) : c.sent % len(c.payload) + 1])
                c.sent += 1
            except OSError:
                c.closed_after = time.monotonic() - c.opened
        open_socks = [c.sock for c in conns if c.closed_after is None]
        readable, _, _ = select.select(open_socks, [], [], 0)
        for c in conns:
            if c.sock in readable:
                try:
                    data = c.sock.recv(4096)
                except OSError:
                    data = b""
                c.answer += data
                if not data:
                    c.closed_after = time.monotonic() - c.opened
        if time.monotonic() >= next_normal:
            started = time.monotonic()
            with urllib.request.urlopen(served.url + "/healthz", timeout=5) as resp:
                assert resp.status == 200
            latencies.append(time.monotonic() - started)
            next_normal = time.monotonic() + 1.0
        time.sleep(step)
    for c in conns:
        c.sock.close()
    return latencies


def test_slowloris_headers_are_cut_at_the_header_deadline_and_others_are_served(served: Served) -> None:
    endless = b"X-Padding: " + b"a" * 4000 + b"\r\n"
    conns = [_open(served, b"GET /healthz HTTP/1.1\r\nHost: x\r\n", endless) for _ in range(SLOW - 10)]
    # Kept-alive connections: a first request answered in full, then the next one's headers dribbled.
    for _ in range(10):
        c = _open(served, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", endless)
        first = c.sock.recv(4096)
        assert first.startswith(b"HTTP/1.1 200"), first
        c.opened = time.monotonic()
        conns.append(c)
    latencies = _dribble(conns, served, for_seconds=HEADER_TIMEOUT + 10)
    closed = [c.closed_after for c in conns]
    assert all(t is not None for t in closed), f"{sum(t is None for t in closed)} of {len(conns)} still open"
    slowest = max(t for t in closed if t is not None)
    assert slowest < HEADER_TIMEOUT + 1.5, slowest
    assert all(b"408 Request Timeout" in c.answer for c in conns)
    assert latencies and max(latencies) < 1.0, latencies
    print(f"\n{len(conns)} slowloris connections closed after {slowest:.2f} s at most; /healthz {max(latencies):.3f} s")


def test_a_slow_body_is_cut_at_the_body_deadline_and_others_are_served(served: Served) -> None:
    head = (
        b"POST /v1/developers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    )
    conns = [_open(served, head + b'{"name": "', b"a") for _ in range(SLOW)]
    latencies = _dribble(conns, served, for_seconds=BODY_TIMEOUT + 10)
    closed = [c.closed_after for c in conns]
    assert all(t is not None for t in closed), f"{sum(t is None for t in closed)} of {len(conns)} still open"
    slowest = max(t for t in closed if t is not None)
    assert slowest < BODY_TIMEOUT + 1.5, slowest
    assert all(b"408 Request Timeout" in c.answer for c in conns)
    assert latencies and max(latencies) < 1.0, latencies


def test_connections_over_the_cap_are_refused_at_once(served: Served) -> None:
    held = [socket.create_connection((served.host, served.port), timeout=5) for _ in range(MAX_CONNECTIONS)]
    try:
        time.sleep(0.2)
        started = time.monotonic()
        with socket.create_connection((served.host, served.port), timeout=5) as extra:
            answer = extra.recv(4096)
            assert answer.startswith(b"HTTP/1.1 503"), answer
            assert b"Retry-After: 1" in answer
            assert extra.recv(4096) == b""  # and closed
        assert time.monotonic() - started < 1.0
    finally:
        for s in held:
            s.close()
    # The idle ones were cut at the header deadline anyway; once they are gone, everyone is served again.
    deadline = time.monotonic() + 5
    while True:
        try:
            with urllib.request.urlopen(served.url + "/healthz", timeout=2) as resp:
                assert resp.status == 200
                break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
