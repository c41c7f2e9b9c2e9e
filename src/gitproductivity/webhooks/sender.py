"""The HTTP sender behind a small Protocol: one POST, classified into an `Outcome` (never raises)."""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gitproductivity.core.clock import utcnow
from gitproductivity.core.proxyurl import parse_proxy
from gitproductivity.core.settings import Settings
from gitproductivity.webhooks.client import ConnectionDropped, HttpClient, InvalidResponse, InvalidURL
from gitproductivity.webhooks.guard import DestinationRefused, Guard
from gitproductivity.webhooks.proxy import ProxiedClient, ProxyError

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
    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Outcome: ...

    async def close(self) -> None: ...


def _has_cause(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def classify(exc: BaseException) -> tuple[str, str]:
    """(error kind, message) for an exception raised while POSTing."""
    if _has_cause(exc, DestinationRefused):
        return "refused_destination", str(exc)
    if isinstance(exc, ProxyError):
        return "proxy_error", str(exc)
    if isinstance(exc, TimeoutError):
        return "timeout", "no complete answer within the timeout"
    if _has_cause(exc, ssl.SSLError) or isinstance(exc, ssl.CertificateError):
        return "tls_error", str(exc)
    if isinstance(exc, ConnectionDropped | ConnectionResetError | BrokenPipeError):
        return "connection_dropped", str(exc) or type(exc).__name__
    if isinstance(exc, InvalidResponse):
        return "invalid_response", str(exc)
    if isinstance(exc, InvalidURL):
        return "invalid_url", str(exc)
    if isinstance(exc, socket.gaierror):
        return "connection_error", f"could not resolve the host name: {exc.strerror or exc}"
    if isinstance(exc, OSError):
        return "connection_error", f"{type(exc).__name__}: {exc.strerror or exc}"
    return "error", f"{type(exc).__name__}: {exc}"


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

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Outcome:
        started, t0 = utcnow(), time.perf_counter()
        try:
            response = await self.client.post(url, body, headers, keep=RESPONSE_BODY_LIMIT)
        except Exception as exc:
            kind, message = classify(exc)
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
