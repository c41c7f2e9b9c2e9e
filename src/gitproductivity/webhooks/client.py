"""A small HTTP/1.1 client for webhook POSTs: keep-alive pools, and the destination guard on every connect.

Why our own and not aiohttp's: a webhook POST needs little of a general client (no cookies, proxies,
redirects, compression, streaming uploads), and aiohttp's client spent about three times the CPU per POST of
this one (benchmarks/delivery.py; docs/benchmarks.md). Dispatch is CPU-bound, so that is throughput.

What it does: resolves names itself and connects only to addresses the guard allows (the address checked is
the address connected to, so DNS rebinding gains nothing); TLS with certificate and host name checks (SNI);
writes the request in one call; reads the response (Content-Length, chunked, or until close; informational
1xx skipped) keeping the first `keep` bytes of the body; reuses the connection when the answer allows it,
draining at most `DRAIN_LIMIT` bytes of body (a larger one closes the connection instead). A connection that
drops before an answer is a failed try (`connection_dropped`), never re-sent within the try: one POST per
logged attempt (tests/webhooks/test_flaky.py).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote

from yarl import URL

from gitproductivity.webhooks.guard import DestinationRefused, Guard, literal_address

#: Response head (status line + headers) larger than this is refused.
MAX_HEAD_BYTES = 64 * 1024
#: A response body up to this size is read to the end so the connection can be reused; larger ones close it.
DRAIN_LIMIT = 64 * 1024
#: Idle connections older than this are closed rather than reused (servers commonly time out at 60 s or less).
IDLE_SECONDS = 15.0
MAX_IDLE_PER_HOST = 256
DNS_TTL_SECONDS = 10.0


class InvalidResponse(Exception):
    """The server answered something that is not HTTP/1.x."""


class ConnectionDropped(ConnectionError):
    """The server closed the connection before a complete answer."""


class InvalidURL(ValueError):
    """The URL cannot be sent to."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # for DNS and SNI: lower-case, IDNA-encoded; an IP literal without brackets
    port: int
    ip: str | None  # the host when it is an IP literal
    head: bytes  # request line and the headers that depend only on the URL

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)


@lru_cache(maxsize=4096)
def target(url: str) -> Target:
    try:
        parsed = URL(url)
        host = parsed.raw_host
        port = parsed.port
    except ValueError as exc:
        raise InvalidURL(f"malformed URL: {exc}") from None
    if parsed.scheme not in ("http", "https"):
        raise DestinationRefused(f"only http and https URLs are allowed, not {parsed.scheme or 'none'!r}")
    if not host or port is None:
        raise DestinationRefused("the URL has no host")
    literal = literal_address(host)  # `127.1`, `2130706433`, `0177.0.0.1` ... are addresses, not names
    ip = str(literal) if literal is not None else None
    default_port = 443 if parsed.scheme == "https" else 80
    host_header = f"[{host}]" if ip and ":" in host else host
    if port != default_port:
        host_header += f":{port}"
    lines = [f"POST {parsed.raw_path_qs or '/'} HTTP/1.1", f"Host: {host_header}"]
    if parsed.raw_user is not None:
        credentials = f"{unquote(parsed.raw_user)}:{unquote(parsed.raw_password or '')}"
        lines.append("Authorization: Basic " + base64.b64encode(credentials.encode()).decode("ascii"))
    head = "\r\n".join(lines) + "\r\n"
    if any(ord(c) < 33 and c not in " \r\n" for c in head) or any(ord(c) > 126 for c in head):
        raise InvalidURL("the URL has characters that cannot be sent")
    return Target(scheme=parsed.scheme, host=host, port=port, ip=ip, head=head.encode("ascii"))


Addresses = list[tuple[socket.AddressFamily, str]]
#: How names are resolved: (family, address) pairs for a host and port. Tests inject a zone of their own.
Lookup = Callable[[str, int], Awaitable[Addresses]]


async def system_lookup(host: str, port: int) -> Addresses:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys((family, str(sockaddr[0])) for family, _, _, _, sockaddr in infos))


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes  # the first `keep` bytes


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.closed = False
        self.waiter: asyncio.Future[None] | None = None
        self.idle_since = 0.0
        self.timed_out = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._wake()

    def eof_received(self) -> bool:
        self.closed = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def time_out(self) -> None:
        self.timed_out = True
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(TimeoutError("no complete answer within the timeout"))
        self.close()

    async def more(self) -> None:
        """Wait for more bytes; raise if the server has closed the connection or the deadline passed."""
        if self.timed_out:
            raise TimeoutError("no complete answer within the timeout")
        if self.closed:
            raise ConnectionDropped("the server closed the connection before a complete answer")
        self.waiter = asyncio.get_running_loop().create_future()
        try:
            await self.waiter
        finally:
            self.waiter = None

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def read_response(self, keep: int) -> tuple[Response, bool]:
        """(the response, whether the connection can be reused)."""
        buf = self.buffer
        while True:
            end = buf.find(b"\r\n\r\n")
            while end < 0:
                if len(buf) > MAX_HEAD_BYTES:
                    raise InvalidResponse(f"response headers longer than {MAX_HEAD_BYTES} bytes")
                await self.more()
                end = buf.find(b"\r\n\r\n")
            lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
            del buf[: end + 4]
            parts = lines[0].split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not (len(parts[1]) == 3 and parts[1].isdigit()):
                raise InvalidResponse(f"not an HTTP/1.x status line: {lines[0][:100]!r}")
            status = int(parts[1])
            if 100 <= status < 200 and status != 101:
                continue  # informational (100 Continue, 103 Early Hints): the real answer follows
            break
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise InvalidResponse(f"malformed header line: {line[:100]!r}")
            value = value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        lower = {k.lower(): v for k, v in headers.items()}
        reusable = parts[0] == "HTTP/1.1" and "close" not in lower.get("connection", "").lower()
        if status == 101:
            raise InvalidResponse("the server switched protocols")
        if status in (204, 304):
            return Response(status, headers, b""), reusable
        if "chunked" in lower.get("transfer-encoding", "").lower():
            body, complete = await self._read_chunked(keep)
            return Response(status, headers, body), reusable and complete
        if "content-length" in lower:
            length_text = lower["content-length"].split(",")[0].strip()
            if not length_text.isdigit():
                raise InvalidResponse(f"bad Content-Length: {lower['content-length'][:40]!r}")
            length = int(length_text)
            wanted = length if length <= DRAIN_LIMIT else min(length, keep)
            while len(buf) < wanted:
                await self.more()
            body = bytes(buf[: min(wanted, keep)])
            del buf[:wanted]
            return Response(status, headers, body), reusable and wanted == length
        # No framing: the body runs until the server closes the connection.
        while not self.closed and len(buf) < keep:
            await self.more()
        body = bytes(buf[:keep])
        return Response(status, headers, body), False

    async def _read_chunked(self, keep: int) -> tuple[bytes, bool]:
        buf = self.buffer
        kept = bytearray()
        total = 0
        while True:
            end = buf.find(b"\r\n")
            while end < 0:
                if len(buf) > 1024:
                    raise InvalidResponse("chunk size line too long")
                await self.more()
                end = buf.find(b"\r\n")
            size_text = bytes(buf[:end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise InvalidResponse(f"bad chunk size {size_text[:20]!r}") from None
            del buf[: end + 2]
            if size == 0:
                break
            if total + size > DRAIN_LIMIT:  # too much to drain: keep what we need and drop the connection
                need = max(0, min(size, keep - len(kept)))
                while len(buf) < need and not self.closed:
                    await self.more()
                kept += buf[:need]
                return bytes(kept[:keep]), False
            while len(buf) < size + 2:
                await self.more()
            if len(kept) < keep:
                kept += buf[: min(size, keep - len(kept))]
            total += size
            del buf[: size + 2]
        while True:  # trailers, up to the empty line
            end = buf.find(b"\r\n")
            while end < 0:
                if len(buf) > MAX_HEAD_BYTES:
                    raise InvalidResponse("trailers too long")
                await self.more()
                end = buf.find(b"\r\n")
            line_empty = end == 0
            del buf[: end + 2]
            if line_empty:
                return bytes(kept), True


class HttpClient:
    """POSTs with keep-alive connections per (scheme, host, port); every new connection passes the guard."""

    def __init__(
        self,
        *,
        guard: Guard,
        timeout: float,
        ssl_context: ssl.SSLContext | None = None,
        lookup: Lookup = system_lookup,
    ) -> None:
        self.guard = guard
        self.lookup = lookup
        self.timeout = timeout
        self.ssl_context = ssl_context
        self.idle: dict[tuple[str, str, int], collections.deque[_Connection]] = collections.defaultdict(
            collections.deque
        )
        self.dns: dict[tuple[str, int], tuple[float, list[tuple[socket.AddressFamily, str]]]] = {}
        self.allowed_ips: dict[str, bool] = {}
        self.next_sweep = 0.0

    async def post(self, url: str, body: bytes, headers: dict[str, str], *, keep: int = 4096) -> Response:
        t = target(url)
        if t.ip is not None and not self._allows(t.ip):
            raise DestinationRefused(f"destination {t.ip} is a private or reserved address")
        request = b"".join(
            (
                self._head(t),
                "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode("latin-1"),
                b"Content-Length: %d\r\n\r\n" % len(body),
                body,
            )
        )
        # One deadline for the whole exchange. A timer per request, not `asyncio.timeout` (which cost more
        # than the rest of a keep-alive POST): it fails the connection's waiter and closes the connection.
        deadline = asyncio.get_running_loop().time() + self.timeout
        # A reused connection that drops before any answer is this try's failure, never silently sent again:
        # the server may have read the whole POST (a receiver that crashed or closed without answering), and
        # a second POST would be a try missing from the attempt log. Connections the server closed while idle
        # are not reused (`_idle_connection`), so only a close racing our request gets here.
        conn = self._idle_connection(t.key)
        if conn is None:
            async with asyncio.timeout_at(deadline):
                conn = await self._connect(t)
        return await self._exchange(t, conn, request, keep, deadline)

    def _head(self, t: Target) -> bytes:
        return t.head  # the proxied client (webhooks.proxy) writes the absolute form for a forwarding proxy

    def _allows(self, ip: str) -> bool:
        allowed = self.allowed_ips.get(ip)
        if allowed is None:
            if len(self.allowed_ips) > 4096:
                self.allowed_ips.clear()
            allowed = self.allowed_ips[ip] = self.guard.allows(ip)
        return allowed

    async def _exchange(self, t: Target, conn: _Connection, request: bytes, keep: int, deadline: float) -> Response:
        timer = asyncio.get_running_loop().call_at(deadline, conn.time_out)
        try:
            assert conn.transport is not None
            conn.transport.write(request)
            response, reusable = await conn.read_response(keep)
        except BaseException:
            conn.close()
            raise
        finally:
            timer.cancel()
        if reusable and not conn.closed and not conn.buffer:
            conn.idle_since = time.monotonic()
            idle = self.idle[t.key]
            if len(idle) < MAX_IDLE_PER_HOST:
                idle.append(conn)
                return response
        conn.close()
        return response

    def _idle_connection(self, key: tuple[str, str, int]) -> _Connection | None:
        now = time.monotonic()
        if now >= self.next_sweep:
            self._sweep(now)
        idle = self.idle.get(key)
        while idle:
            conn = idle.pop()  # the most recently used: least likely to have been closed by the server
            if not conn.closed and not conn.buffer and now - conn.idle_since < IDLE_SECONDS:
                return conn
            conn.close()
        return None

    def _sweep(self, now: float) -> None:
        self.next_sweep = now + IDLE_SECONDS
        for key in list(self.idle):
            fresh = collections.deque(c for c in self.idle[key] if not c.closed and now - c.idle_since < IDLE_SECONDS)
            for conn in self.idle[key]:
                if conn not in fresh:
                    conn.close()
            if fresh:
                self.idle[key] = fresh
            else:
                del self.idle[key]

    async def _resolve(self, host: str, port: int) -> list[tuple[socket.AddressFamily, str]]:
        now = time.monotonic()
        cached = self.dns.get((host, port))
        if cached is not None and cached[0] > now:
            return cached[1]
        found = await self.lookup(host, port)
        allowed: list[tuple[socket.AddressFamily, str]] = [
            (family, address) for family, address in found if self.guard.allows(address)
        ]
        if not allowed:
            refused = ", ".join(sorted({address for _, address in found}))
            raise DestinationRefused(f"{host} resolves only to refused addresses ({refused})")
        if len(self.dns) > 4096:
            self.dns.clear()
        self.dns[(host, port)] = (now + DNS_TTL_SECONDS, allowed)
        return allowed

    async def _connect(self, t: Target) -> _Connection:
        if t.ip is not None:
            family = socket.AF_INET6 if ":" in t.ip else socket.AF_INET
            addresses: list[tuple[socket.AddressFamily, str]] = [(family, t.ip)]
        else:
            addresses = await self._resolve(t.host, t.port)
        context: ssl.SSLContext | None = None
        if t.scheme == "https":
            context = self.ssl_context or _default_ssl_context()
        loop = asyncio.get_running_loop()
        error: OSError | None = None
        for family, address in addresses:
            try:
                _, conn = await loop.create_connection(
                    _Connection,
                    host=address,
                    port=t.port,
                    family=family,
                    ssl=context,
                    server_hostname=t.host if context is not None else None,
                )
                return conn
            except ssl.SSLError:
                raise
            except OSError as exc:  # refused or unreachable: try the next address
                error = exc
        assert error is not None
        raise error

    async def close(self) -> None:
        for idle in self.idle.values():
            for conn in idle:
                conn.close()
        self.idle.clear()


@lru_cache(maxsize=1)
def _default_ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context()
