"""Real network parts for tests, on 127.0.0.1 only: every server binds port 0 itself and reports the port it got.

Nothing here picks a "free" port, closes it and hopes it is still free later (another process may take it in
between). Instead:
- `listening_socket()`: a socket this process binds to port 0 and keeps; a `gitproductivity serve` child serves on
  it (`serve_command`, `serve --fd`), so the address stays ours across restarts of the child;
- `Receiver` (aiohttp), `SmtpServer` (aiosmtpd), `ConnectionCounter`: servers in a thread of their own, bound to
  port 0, their `port` read back from the bound socket;
- `refusing_port()`: a port held bound but not listening, so every connection to it is refused for as long as the
  test holds it;
- `listening_port(proc)`: the port a child process (an example receiver started with PORT=0) is listening on, read
  from the kernel's socket table.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller
from multidict import CIMultiDict

EXE = str(Path(sys.executable).with_name("gitproductivity"))
HOST = "127.0.0.1"


def listening_socket(backlog: int = 512) -> socket.socket:
    """A TCP socket listening on 127.0.0.1 at a port the kernel chose; inheritable, to pass to a child process."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((HOST, 0))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def port_of(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


def serve_command(sock: socket.socket, *args: str) -> tuple[list[str], dict[str, Any]]:
    """`gitproductivity serve --fd N` on `sock` (which this process keeps open): the argv and the Popen keywords."""
    return [EXE, "serve", "--fd", str(sock.fileno()), *args], {"pass_fds": (sock.fileno(),)}


class Resetter:
    """While a server on `sock` is down, the test takes its connections and resets each (as a restarting server's
    address refuses them), keeping the address: `stop()` before a server takes the socket again."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reset = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="resetter", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import select

        while not self._stop.is_set():
            readable, _, _ = select.select([self.sock], [], [], 0.05)
            if not readable:
                continue
            self.sock.setblocking(False)
            try:
                conn, _ = self.sock.accept()
            except BlockingIOError:
                continue
            finally:
                self.sock.setblocking(True)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()  # with a zero linger: a reset, not an orderly close
            self.reset += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


@contextlib.contextmanager
def refusing_port() -> Iterator[int]:
    """A port bound on 127.0.0.1 but not listening: the kernel refuses every connection to it while it is held."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        yield port_of(sock)


def listening_port(proc: subprocess.Popen[Any], *, timeout: float = 30.0, describe: Callable[[], str] = str) -> int:
    """The TCP port `proc` listens on (the first it opens), read from /proc: for servers started on port 0 that
    print nothing reliable about it. Fails at once if the process exits, or after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        port = _listening_port_of(proc.pid)
        if port is not None:
            return port
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"process {proc.pid} never listened\n{describe()}")
        time.sleep(0.05)


def _listening_port_of(pid: int) -> int | None:
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[len("socket:[") : -1])
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/net/{table}") as rows:
            next(rows)
            for row in rows:
                cols = row.split()
                if cols[3] == "0A" and cols[9] in inodes:  # state LISTEN, owned by this process
                    return int(cols[1].rsplit(":", 1)[1], 16)
    return None


class _Loop:
    """An asyncio loop running in a daemon thread, for servers the (synchronous) tests drive."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass
class Received:
    path: str
    headers: CIMultiDict[str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """An aiohttp server on 127.0.0.1 (port 0) in its own thread, recording every request. Paths: /ok, /fail (500),
    /redirect (302 to /ok), /redirect-metadata (302 to the cloud metadata address), /slow (sleeps `slow_seconds`),
    /drop (closes the connection without answering), /flaky (503 `flaky_failures` times, then 200), /hold-once (the
    first request calls `on_hold`, if set, then is held unanswered until the test sets `released`). Any other path
    answers `status` (200 unless a test changes it), or 500 when the body contains one of `fail_bodies_containing`."""

    port: int = 0
    requests: list[Received] = field(default_factory=list)
    status: int = 200
    fail_bodies_containing: tuple[bytes, ...] = ()
    slow_seconds: float = 2.0
    flaky_failures: int = 2
    released: threading.Event = field(default_factory=threading.Event)
    on_hold: Callable[[], None] | None = None
    in_flight: int = 0
    max_in_flight: int = 0
    ssl_context: Any = None
    _loop: _Loop | None = None
    _runner: web.AppRunner | None = None

    def url(self, path: str = "/ok", host: str = HOST) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    def on(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    def wait_for(self, count: int, *, timeout: float = 15.0) -> list[Received]:
        """The first `count` requests, once that many have arrived."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"receiver got {len(self.requests)} requests, expected {count}")
            time.sleep(0.02)
        return self.requests[:count]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Record the request, then answer it (subclasses answer some paths their own way first)."""
        body = await request.read()
        self.requests.append(Received(request.path, CIMultiDict(request.headers), body, time.time()))
        return await self.answer(request, body)

    async def answer(self, request: web.Request, body: bytes) -> web.StreamResponse:
        path = request.path
        if path == "/fail":
            return web.Response(status=500, text="internal trouble")
        if path == "/redirect":
            raise web.HTTPFound(self.url("/ok"))
        if path == "/redirect-metadata":
            raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")
        if path == "/slow":
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                await asyncio.sleep(self.slow_seconds)
            finally:
                self.in_flight -= 1
        if path == "/drop":
            assert request.transport is not None
            request.transport.close()
            await asyncio.sleep(1)
        if path == "/flaky" and len(self.on("/flaky")) <= self.flaky_failures:
            return web.Response(status=503, text="not yet")
        if path == "/hold-once" and len(self.on("/hold-once")) == 1:
            if self.on_hold is not None:
                self.on_hold()
            while not self.released.is_set():
                await asyncio.sleep(0.02)
        status = 500 if any(part in body for part in self.fail_bodies_containing) else self.status
        return web.json_response({"received": True}, status=status, headers={"X-Receiver": "test"})

    def start(self) -> Receiver:
        self._loop = _Loop("receiver")
        self._loop.run(self._start())
        return self

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, 0, ssl_context=self.ssl_context)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    def stop(self) -> None:
        assert self._loop is not None and self._runner is not None
        self.released.set()
        self._loop.run(self._runner.cleanup())
        self._loop.close()


class Mailbox:
    """An aiosmtpd handler keeping every message."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            {"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "data": envelope.content.decode("utf-8")}
        )
        return "250 OK"


class SmtpServer(Controller):
    """aiosmtpd's threaded controller on a socket bound to port 0 (its own `port` option would need a free port)."""

    def __init__(self, handler: Any, **kwargs: Any) -> None:
        self._sock = listening_socket()
        super().__init__(handler, hostname=HOST, port=port_of(self._sock), **kwargs)

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)

    def stop(self, no_assert: bool = False) -> None:
        super().stop(no_assert)
        self._sock.close()


class ConnectionCounter:
    """A plain TCP listener on 127.0.0.1 (port 0) that counts the connections made to it and closes each at once:
    the proof that a client did (or did not) try to connect."""

    def __init__(self) -> None:
        self._sock = listening_socket()
        self.port = port_of(self._sock)
        self.connections = 0
        self._closing = False
        self._thread = threading.Thread(target=self._accept, name="connection-counter", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            if self._closing:
                conn.close()
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._closing = True
        with contextlib.suppress(OSError), socket.create_connection((HOST, self.port), timeout=5):
            pass  # wakes the accept loop, which sees `_closing` and ends without counting it
        self._thread.join(10)
        self._sock.close()
