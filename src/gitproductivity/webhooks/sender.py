"""The HTTP sender behind a small Protocol: one POST, classified into an `Outcome` (never raises)."""

from __future__ import annotations

import logging
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar
from urllib.parse import urlsplit

from gitproductivity.core.clock import utcnow
from gitproductivity.core.proxyurl import parse_proxy
from gitproductivity.core.settings import Settings
from gitproductivity.webhooks.client import HttpClient, InvalidURL, TlsIdentity
from gitproductivity.webhooks.guard import PRIVATE_HINT, DestinationRefused, Guard
from gitproductivity.webhooks.http1 import ClosedAfterHandshake, ConnectionDropped, InvalidResponse
from gitproductivity.webhooks.proxy import ProxiedClient, ProxyError

log = logging.getLogger(__name__)
E = TypeVar("E", bound=BaseException)

#: Response bodies are kept up to this many bytes in the delivery log.
RESPONSE_BODY_LIMIT = 4096


@dataclass
class Outcome:
    started_at: datetime
    duration_ms: float
    status_code: int | None = None
    response_headers: dict[str, str] | None = None
    response_body: str | None = None
    error_kind: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error_kind is None and self.status_code is not None and 200 <= self.status_code < 300


class Sender(Protocol):
    async def post(self, url: str, body: bytes, headers: dict[str, str], *, tls: TlsIdentity | None = None) -> Outcome:
        """POST once; `tls`: the endpoint's client certificate (webhooks.client_certs), presented over https."""
        ...

    async def close(self) -> None: ...


def _cause(exc: BaseException, kind: type[E]) -> E | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


#: TLS alerts by which a receiver turns down the client certificate presented, or the lack of one.
CLIENT_CERT_ALERTS = (
    "TLSV13_ALERT_CERTIFICATE_REQUIRED",
    "SSLV3_ALERT_BAD_CERTIFICATE",
    "TLSV1_ALERT_UNKNOWN_CA",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
    "SSLV3_ALERT_HANDSHAKE_FAILURE",
)
CLIENT_CERT_HINT = (
    "a receiver that requires a client certificate does this when none, or one it does not accept, is presented "
    "(docs/webhooks.md, Client certificates)"
)


def _where(url: str) -> str:
    """`host:port` of the URL, for messages ("nothing listening on 127.0.0.1:9")."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "the receiver"
    host = parts.hostname or "?"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def classify(exc: BaseException, url: str = "") -> tuple[str, str]:
    """(error kind, message in words) for an exception raised while POSTing. The message names no exception
    class: it is shown to people (the delivery log, the test result, notifications); the raw exception is
    written to the server log."""
    where = _where(url) if url else "the receiver"
    if _cause(exc, DestinationRefused) is not None:
        message = str(exc)
        return "refused_destination", message if PRIVATE_HINT in message else f"{message}; {PRIVATE_HINT}"
    if isinstance(exc, ProxyError):
        return "proxy_error", str(exc)  # webhooks.proxy words its errors
    if isinstance(exc, TimeoutError):
        return "timeout", "no complete answer within the timeout"
    if isinstance(exc, ssl.SSLCertVerificationError | ssl.CertificateError):
        reason = getattr(exc, "verify_message", None) or "it could not be verified"
        return "tls_error", f"the receiver's TLS certificate was not accepted ({reason})"
    if (found := _cause(exc, ssl.SSLError)) is not None:
        reason = str(found.reason or "no secure connection could be made")
        words = f"the TLS handshake with {where} failed ({reason.lower().replace('_', ' ')})"
        if reason in CLIENT_CERT_ALERTS:
            words += f"; {CLIENT_CERT_HINT}"
        return "tls_error", words
    if isinstance(exc, ClosedAfterHandshake):
        return "connection_dropped", (
            f"{where} closed the connection right after the TLS handshake, without answering; {CLIENT_CERT_HINT}"
        )
    if isinstance(exc, ConnectionDropped | ConnectionResetError | BrokenPipeError):
        return "connection_dropped", "the receiver closed the connection before a complete answer"
    if isinstance(exc, InvalidResponse):
        return "invalid_response", f"the receiver's answer is not HTTP ({exc})"
    if isinstance(exc, InvalidURL):
        return "invalid_url", f"the URL cannot be sent to ({exc})"
    if isinstance(exc, socket.gaierror):
        host = where.rsplit(":", 1)[0]
        return "connection_error", f"could not resolve the host name {host} ({(exc.strerror or 'no address').lower()})"
    if isinstance(exc, ConnectionRefusedError):
        return "connection_error", f"the receiver refused the connection (nothing listening on {where})"
    if isinstance(exc, OSError):
        reason = (exc.strerror or "the network gave no reason").rstrip(".")
        return "connection_error", f"could not connect to {where} ({reason[:1].lower() + reason[1:]})"
    log.warning("webhook POST to %s failed unexpectedly", where, exc_info=exc)
    return "error", "the delivery failed unexpectedly; the details are in the server log"


class HttpSender:
    """The dispatcher's sender: `client.HttpClient` (keep-alive, guarded connects, never follows redirects)."""

    def __init__(self, settings: Settings) -> None:
        proxy = parse_proxy(settings.webhook_proxy.get_secret_value()) if settings.webhook_proxy else None
        guard, timeout = Guard.from_settings(settings), settings.webhook_timeout
        self.client = (
            HttpClient(guard=guard, timeout=timeout)
            if proxy is None
            else ProxiedClient(guard=guard, timeout=timeout, proxy=proxy)
        )

    async def post(self, url: str, body: bytes, headers: dict[str, str], *, tls: TlsIdentity | None = None) -> Outcome:
        started, t0 = utcnow(), time.perf_counter()
        try:
            response = await self.client.post(url, body, headers, keep=RESPONSE_BODY_LIMIT, tls=tls)
        except Exception as exc:
            kind, message = classify(exc, url)
            log.info("webhook POST failed: %s: %s", type(exc).__name__, exc)  # the technical detail, for operators
            return Outcome(
                started_at=started, duration_ms=(time.perf_counter() - t0) * 1000, error_kind=kind, error=message[:1000]
            )
        status = response.status
        outcome = Outcome(
            started_at=started,
            duration_ms=(time.perf_counter() - t0) * 1000,
            status_code=status,
            response_headers=response.headers,
            response_body=response.body.decode("utf-8", errors="replace"),
        )
        if 300 <= status < 400:
            outcome.error_kind = "redirect"
            outcome.error = f"HTTP {status} (redirects are not followed)"
        elif not 200 <= status < 300:
            outcome.error_kind = "http_status"
            outcome.error = f"HTTP {status}"
        return outcome

    async def close(self) -> None:
        await self.client.close()
