"""A small HTTP/1.1 client for webhook POSTs: keep-alive pools, and the destination guard on every connect.

Why our own and not aiohttp's: a webhook POST needs little of a general client (no cookies, proxies,
redirects, compression, streaming uploads), and aiohttp's client spent about three times the CPU per POST of
this one (benchmarks/delivery.py; docs/benchmarks.md). Dispatch is CPU-bound, so that is throughput.

What it does: resolves names itself and connects only to addresses the guard allows (the address checked is
the address connected to, so DNS rebinding gains nothing); TLS with certificate and host name checks (SNI),
presenting an endpoint's client certificate when it has one (`TlsIdentity`: its connections are pooled apart);
writes the request in one call; reads the response (`webhooks.http1`: Content-Length, chunked, or until close;
informational 1xx skipped) keeping the first `keep` bytes of the body; reuses the connection when the answer allows it,
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

# The client's errors and limits are the connection's (webhooks.http1), re-exported.
from gitproductivity.webhooks.http1 import DRAIN_LIMIT as DRAIN_LIMIT
from gitproductivity.webhooks.http1 import MAX_HEAD_BYTES as MAX_HEAD_BYTES
from gitproductivity.webhooks.http1 import ClosedAfterHandshake, _Connection
from gitproductivity.webhooks.http1 import ConnectionDropped as ConnectionDropped
from gitproductivity.webhooks.http1 import InvalidResponse as InvalidResponse
from gitproductivity.webhooks.http1 import Response as Response

#: Idle connections older than this are closed rather than reused (servers commonly time out at 60 s or less).
IDLE_SECONDS = 15.0
MAX_IDLE_PER_HOST = 256
DNS_TTL_SECONDS = 10.0


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


@dataclass(frozen=True)
class TlsIdentity:
    """A client certificate to present in the TLS handshake (`webhooks.client_certs` makes them). `name` (the
    certificate's fingerprint) keeps its connections in a pool of their own: a connection made with one
    certificate, or none, is never reused for a request that should present another."""

    name: str
    context: ssl.SSLContext


#: Idle connections are pooled per (scheme, host, port, client certificate's name or "").
PoolKey = tuple[str, str, int, str]


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
        self.idle: dict[PoolKey, collections.deque[_Connection]] = collections.defaultdict(collections.deque)
        self.dns: dict[tuple[str, int], tuple[float, list[tuple[socket.AddressFamily, str]]]] = {}
        self.allowed_ips: dict[str, bool] = {}
        self.next_sweep = 0.0

    async def post(
        self, url: str, body: bytes, headers: dict[str, str], *, keep: int = 4096, tls: TlsIdentity | None = None
    ) -> Response:
        """POST `body`; over https, present `tls`'s client certificate when one is given."""
        t = target(url)
        tls = tls if t.scheme == "https" else None
        key: PoolKey = (*t.key, tls.name if tls is not None else "")
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
        conn = self._idle_connection(key)
        if conn is not None:
            return await self._exchange(key, conn, request, keep, deadline)
        async with asyncio.timeout_at(deadline):
            conn = await self._connect(t, tls)
        try:
            return await self._exchange(key, conn, request, keep, deadline)
        except ConnectionDropped as exc:
            if t.scheme == "https" and not conn.answered and exc.__cause__ is None:
                raise ClosedAfterHandshake("the server closed the new TLS connection without answering") from None
            raise

    def _head(self, t: Target) -> bytes:
        return t.head  # the proxied client (webhooks.proxy) writes the absolute form for a forwarding proxy

    def _allows(self, ip: str) -> bool:
        allowed = self.allowed_ips.get(ip)
        if allowed is None:
            if len(self.allowed_ips) > 4096:
                self.allowed_ips.clear()
            allowed = self.allowed_ips[ip] = self.guard.allows(ip)
        return allowed

    async def _exchange(self, key: PoolKey, conn: _Connection, request: bytes, keep: int, deadline: float) -> Response:
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
            idle = self.idle[key]
            if len(idle) < MAX_IDLE_PER_HOST:
                idle.append(conn)
                return response
        conn.close()
        return response

    def _idle_connection(self, key: PoolKey) -> _Connection | None:
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

    def _context(self, t: Target, tls: TlsIdentity | None) -> ssl.SSLContext | None:
        """The TLS context for a new connection: the client certificate's, or the client's own (None for http)."""
        if t.scheme != "https":
            return None
        if tls is not None:
            return tls.context
        return self.ssl_context or _default_ssl_context()

    async def _connect(self, t: Target, tls: TlsIdentity | None = None) -> _Connection:
        if t.ip is not None:
            family = socket.AF_INET6 if ":" in t.ip else socket.AF_INET
            addresses: list[tuple[socket.AddressFamily, str]] = [(family, t.ip)]
        else:
            addresses = await self._resolve(t.host, t.port)
        context = self._context(t, tls)
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
