"""Finding 12 of issue 12: slow clients. A real `gitproductivity serve` and real sockets on 127.0.0.1: connections
that dribble their headers (slowloris) or their body are closed within the configured bounds, connections over
the cap are refused at once, and a normal client is served all the while."""

from __future__ import annotations

import contextlib
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import inherited_env, wait_until_serving
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
    env = inherited_env()
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
    opened: float  # taken before connecting: the server's deadline cannot have started earlier
    payload: bytes
    sent: int = 0
    closed_after: float | None = None
    answer: bytes = b""


def _open(served: Served, prefix: bytes, payload: bytes) -> Slow:
    opened = time.monotonic()
    sock = socket.create_connection((served.host, served.port), timeout=5)
    if prefix:
        sock.sendall(prefix)
    return Slow(sock, opened, payload)


class Normal:
    """A normal client asking for /healthz, one request after another, in its own thread while the slow ones
    dribble: when each request ended, and how long it took."""

    def __init__(self, served: Served) -> None:
        self.served = served
        self.ended: list[float] = []
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                with urllib.request.urlopen(self.served.url + "/healthz", timeout=30) as resp:
                    if resp.status != 200:
                        self.failures.append(f"status {resp.status}")
            except OSError as exc:
                self.failures.append(repr(exc))
                return
            self.ended.append(time.monotonic())
            self.latencies.append(self.ended[-1] - started)
            self.stop.wait(0.2)

    def __enter__(self) -> Normal:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=60)


def _closed(c: Slow) -> None:
    """The server closed `c`: note when, and read whatever it answered first (a 408 queued before a reset)."""
    c.closed_after = time.monotonic() - c.opened
    c.sock.setblocking(False)
    with contextlib.suppress(OSError):
        while data := c.sock.recv(4096):
            c.answer += data


def _dribble(conns: list[Slow], *, for_seconds: float, step: float = 0.25) -> None:
    """Send each open connection one more byte every `step` s for up to `for_seconds`, and note when the server
    closes each one: `select` wakes as soon as one is readable, so the time noted is when the server closed it,
    not when a loop got round to looking."""
    end = time.monotonic() + for_seconds
    next_send = time.monotonic()
    while (now := time.monotonic()) < end and any(c.closed_after is None for c in conns):
        if now >= next_send:
            for c in conns:
                if c.closed_after is not None:
                    continue
                try:
                    c.sock.send(c.payload[c.sent % len(c.payload) : c.sent % len(c.payload) + 1])
                    c.sent += 1
                except OSError:
                    _closed(c)
            next_send = now + step
        open_socks = [c.sock for c in conns if c.closed_after is None]
        readable, _, _ = select.select(open_socks, [], [], max(0.0, min(next_send, end) - time.monotonic()))
        for c in conns:
            if c.sock in readable:
                try:
                    data = c.sock.recv(4096)
                except OSError:
                    data = b""
                c.answer += data
                if not data:
                    _closed(c)
    for c in conns:
        c.sock.close()


def _check_cut_at(conns: list[Slow], normal: Normal, deadline: float) -> float:
    """Every slow connection answered 408 and closed at its deadline: not before it, and well before the client
    stopped dribbling (a deadline restarted by each byte would never close them); the normal client, started
    once they were all open, was answered before the first of them could be cut (a server stuck behind the slow
    clients answers only once they are cut), every request inside the deadline."""
    closed = [c.closed_after for c in conns]
    assert all(t is not None for t in closed), f"{sum(t is None for t in closed)} of {len(conns)} still open"
    times = [t for t in closed if t is not None]
    assert min(times) >= deadline, f"closed after {min(times):.2f} s, before the {deadline} s deadline"
    assert max(times) < 2 * deadline, f"closed after {max(times):.2f} s, long past the {deadline} s deadline"
    assert all(b"408 Request Timeout" in c.answer for c in conns), [c.answer for c in conns if b"408" not in c.answer]
    assert normal.failures == []
    attack_open_until = min(c.opened for c in conns) + deadline  # none can be cut before (checked above)
    assert [t for t in normal.ended if t < attack_open_until], "no answer while the slow connections were open"
    assert max(normal.latencies) < deadline, normal.latencies
    return max(times)


def test_slowloris_headers_are_cut_at_the_header_deadline_and_others_are_served(served: Served) -> None:
    endless = b"X-Padding: " + b"a" * 4000 + b"\r\n"
    conns = [_open(served, b"GET /healthz HTTP/1.1\r\nHost: x\r\n", endless) for _ in range(SLOW - 10)]
    # Kept-alive connections: a first request answered in full, then the next one's headers dribbled. Their
    # deadline starts after that first response, so later than `opened`: the lower bound still holds.
    for _ in range(10):
        c = _open(served, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", endless)
        first = c.sock.recv(4096)
        assert first.startswith(b"HTTP/1.1 200"), first
        conns.append(c)
    with Normal(served) as normal:
        _dribble(conns, for_seconds=3 * HEADER_TIMEOUT)
    slowest = _check_cut_at(conns, normal, HEADER_TIMEOUT)
    longest = max(normal.latencies)
    print(f"\n{len(conns)} slowloris connections closed after {slowest:.2f} s at most; /healthz {longest:.3f} s")


def test_a_slow_body_is_cut_at_the_body_deadline_and_others_are_served(served: Served) -> None:
    head = (
        b"POST /v1/developers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    )
    conns = [_open(served, head + b'{"name": "', b"a") for _ in range(SLOW)]
    with Normal(served) as normal:
        _dribble(conns, for_seconds=3 * BODY_TIMEOUT)
    _check_cut_at(conns, normal, BODY_TIMEOUT)


def test_connections_over_the_cap_are_refused_at_once(served: Served) -> None:
    held = [socket.create_connection((served.host, served.port), timeout=5) for _ in range(MAX_CONNECTIONS)]
    try:
        # The server accepts in order, so this one is the cap's 151st (the held ones idle, but their header
        # deadline is seconds away).
        started = time.monotonic()
        with socket.create_connection((served.host, served.port), timeout=5) as extra:
            answer = extra.recv(4096)
            assert answer.startswith(b"HTTP/1.1 503"), answer
            assert b"Retry-After: 1" in answer
            assert extra.recv(4096) == b""  # and closed
        assert time.monotonic() - started < HEADER_TIMEOUT  # refused, not left to its header deadline
    finally:
        for s in held:
            s.close()
    # The idle ones were cut at the header deadline anyway; once they are gone, everyone is served again.
    deadline = time.monotonic() + 2 * HEADER_TIMEOUT
    while True:
        try:
            with urllib.request.urlopen(served.url + "/healthz", timeout=2) as resp:
                assert resp.status == 200
                break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
