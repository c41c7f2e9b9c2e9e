"""The HTTP sender behind a small Protocol: one POST, classified into an `Outcome` (never raises)."""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import aiohttp

from gitproductivity.core.clock import utcnow
from gitproductivity.core.settings import Settings
from gitproductivity.webhooks.guard import DestinationRefused, Guard, GuardedResolver

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
        if isinstance(seen, kind) or isinstance(getattr(seen, "os_error", None), kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def classify(exc: BaseException) -> tuple[str, str]:
    """(error kind, message) for an exception raised while POSTing."""
    if _has_cause(exc, DestinationRefused):
        return "refused_destination", str(getattr(exc, "os_error", None) or exc)
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "timeout", "no complete answer within the timeout"
    if isinstance(exc, aiohttp.ClientSSLError) or _has_cause(exc, ssl.SSLError):
        return "tls_error", str(exc)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return "connection_dropped", str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "connection_error", str(exc)
    if isinstance(exc, aiohttp.InvalidURL):
        return "invalid_url", str(exc)
    if isinstance(exc, aiohttp.ClientError | OSError):
        return "connection_error", f"{type(exc).__name__}: {exc}"
    return "error", f"{type(exc).__name__}: {exc}"


class AiohttpSender:
    """One shared aiohttp session; redirects are never followed; the guard checks every connected address."""

    def __init__(self, settings: Settings, *, limit: int | None = None) -> None:
        self.guard = Guard.from_settings(settings)
        self.timeout = aiohttp.ClientTimeout(total=settings.webhook_timeout)
        connector = aiohttp.TCPConnector(
            limit=limit or settings.webhook_concurrency,
            resolver=GuardedResolver(self.guard),
            ttl_dns_cache=10,
        )
        self.session = aiohttp.ClientSession(connector=connector, trust_env=False, auto_decompress=True)

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Outcome:
        started, t0 = utcnow(), time.perf_counter()
        try:
            self.guard.check_url(url)
            async with self.session.post(
                url, data=body, headers=headers, allow_redirects=False, timeout=self.timeout
            ) as resp:
                raw = await resp.content.read(RESPONSE_BODY_LIMIT)
                outcome = Outcome(
                    started_at=started,
                    duration_ms=(time.perf_counter() - t0) * 1000,
                    status_code=resp.status,
                    response_headers={k: v for k, v in resp.headers.items()},
                    response_body=raw.decode("utf-8", errors="replace"),
                )
        except Exception as exc:
            kind, message = classify(exc)
            return Outcome(
                started_at=started, duration_ms=(time.perf_counter() - t0) * 1000, error_kind=kind, error=message[:1000]
            )
        if 300 <= resp.status < 400:
            outcome.error_kind = "redirect"
            outcome.error = f"HTTP {resp.status} (redirects are not followed)"
        elif not outcome.ok:
            outcome.error_kind = "http_status"
            outcome.error = f"HTTP {resp.status}"
        return outcome

    async def close(self) -> None:
        await self.session.close()
