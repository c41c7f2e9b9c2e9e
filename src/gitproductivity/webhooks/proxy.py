"""Deliveries through an egress proxy (`GITPRODUCTIVITY_WEBHOOK_PROXY`), e.g. Stripe's smokescreen.

https destinations: a `CONNECT host:port` tunnel through the proxy, then TLS end to end with the receiver
(certificate and host name checked against the destination, as without a proxy; the proxy sees no plaintext, and
an endpoint's client certificate, if it has one, is presented in that TLS handshake: the proxy never sees it).
http destinations: the request goes to the proxy in absolute form (`POST http://host:port/path`), which
forwards it. Either way the destination's *name* is what the proxy gets, so its own allow-lists by host name
apply; before that, `ProxiedClient` has checked the destination with the guard (IP literals directly,
names by resolving them itself): docs/security.md says what that can and cannot enforce.

A proxy that cannot be reached, or that refuses the tunnel, is a failed try of kind `proxy_error`, retried on
the schedule like any other. Messages name the proxy by host:port only, never its credentials.
"""

from __future__ import annotations

import asyncio
import ssl
from functools import lru_cache

from gitproductivity.core.proxyurl import ProxyAddress
from gitproductivity.webhooks.client import HttpClient, Lookup, Target, TlsIdentity, system_lookup
from gitproductivity.webhooks.guard import Guard
from gitproductivity.webhooks.http1 import _Connection

#: A proxy's answer to CONNECT larger than this is refused.
MAX_REPLY_BYTES = 16 * 1024


class ProxyError(ConnectionError):
    """The proxy could not be reached, or would not carry the request."""


class ProxiedClient(HttpClient):
    """`HttpClient` whose every connection goes through the proxy (keep-alive pools stay per destination)."""

    def __init__(
        self,
        *,
        proxy: ProxyAddress,
        guard: Guard,
        timeout: float,
        ssl_context: ssl.SSLContext | None = None,
        lookup: Lookup = system_lookup,
    ) -> None:
        super().__init__(guard=guard, timeout=timeout, ssl_context=ssl_context, lookup=lookup)
        self.proxy = proxy

    def _head(self, t: Target) -> bytes:
        return t.head if t.scheme == "https" else forward_head(t.head, self.proxy.authorization)

    async def _connect(self, t: Target, tls: TlsIdentity | None = None) -> _Connection:
        if t.ip is None:
            await self._resolve(t.host, t.port)  # the guard's check of the name (docs/security.md)
        return await connect(self.proxy, t, self._context(t, tls))  # a client certificate, if any, goes in the tunnel


@lru_cache(maxsize=4096)
def forward_head(head: bytes, authorization: str | None) -> bytes:
    """A request head in origin form (`POST /path HTTP/1.1` + `Host:`) rewritten to the absolute form a
    forwarding proxy needs, with its credentials."""
    first, rest = head.split(b"\r\n", 1)
    method, path, version = first.split(b" ")
    host = rest.split(b"\r\n", 1)[0].split(b":", 1)[1].strip()
    auth = b"" if authorization is None else b"Proxy-Authorization: %s\r\n" % authorization.encode("ascii")
    return b"%s http://%s%s %s\r\n%s%s" % (method, host, path, version, rest, auth)


async def connect(proxy: ProxyAddress, t: Target, context: ssl.SSLContext | None) -> _Connection:
    """A connection to `t` through the proxy: tunnelled and TLS-wrapped for https, to the proxy itself for http."""
    loop = asyncio.get_running_loop()
    try:
        _, conn = await loop.create_connection(_Connection, host=proxy.host, port=proxy.port)
    except OSError as exc:  # in words: asyncio's strerror ("Connect call failed (…)") is not
        refused = isinstance(exc, ConnectionRefusedError)
        reason = "it refused the connection (nothing listening)" if refused else exc.strerror or "no reason given"
        raise ProxyError(f"could not connect to the webhook proxy {proxy.display}: {reason}") from None
    if t.scheme != "https":
        return conn
    assert context is not None and conn.transport is not None
    authority = f"[{t.host}]:{t.port}" if ":" in t.host else f"{t.host}:{t.port}"
    request = f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n"
    if proxy.authorization is not None:
        request += f"Proxy-Authorization: {proxy.authorization}\r\n"
    conn.transport.write((request + "\r\n").encode("ascii"))
    try:
        status_line = await _reply(conn)
    except BaseException:
        conn.close()
        raise
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or parts[1] != "200":
        conn.close()
        raise ProxyError(f"the webhook proxy {proxy.display} refused the tunnel to {authority}: {status_line[:200]!r}")
    transport = await loop.start_tls(conn.transport, conn, context, server_hostname=t.host)
    if transport is None:
        conn.close()
        raise ProxyError(f"the tunnel through the webhook proxy {proxy.display} closed during the TLS handshake")
    conn.transport = transport
    return conn


async def _reply(conn: _Connection) -> str:
    """The proxy's status line; its headers are skipped (a CONNECT reply has no body)."""
    buf = conn.buffer
    end = buf.find(b"\r\n\r\n")
    while end < 0:
        if len(buf) > MAX_REPLY_BYTES:
            raise ProxyError("the webhook proxy's answer to CONNECT is too long")
        try:
            await conn.more()
        except ConnectionError:
            raise ProxyError("the webhook proxy closed the connection instead of answering CONNECT") from None
        end = buf.find(b"\r\n\r\n")
    head = bytes(buf[:end]).decode("latin-1")
    del buf[: end + 4]
    return head.split("\r\n", 1)[0]
