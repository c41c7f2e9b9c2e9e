"""HTTP plumbing shared by every router: the one error shape, the body size limit, ids, the unit of work, and
`Cache-Control: no-store`. What a request carries (its media type, text that cannot be stored) is `core.content`.

Authentication is `orgs.auth` (core knows no domain).

Every 4xx/5xx body is `{"error": {"code": str, "message": str, "details": list | null}}`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import AfterValidator, BaseModel
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gitproductivity.core.db import get_database
from gitproductivity.core.errors import DomainError, NotFound, RateLimited
from gitproductivity.core.ratelimit import RateLimiter
from gitproductivity.core.settings import Settings
from gitproductivity.core.wording import field_path, plain_message

log = logging.getLogger(__name__)


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


#: Declared on routers so the OpenAPI document shows the error shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409, 413, 422, 429)
}


def error_response(status: int, code: str, message: str, details: Any = None, headers: Any = None) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details}}
    return JSONResponse(body, status_code=status, headers=headers)


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_request: Request, exc: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        if isinstance(exc, RateLimited):
            headers = {"Retry-After": str(exc.retry_after)}
        return error_response(exc.status_code, exc.code, exc.message, exc.details, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            first = next(e for e in errors if e.get("type") == "json_invalid")
            msg = (first.get("ctx") or {}).get("error", "invalid JSON")
            return error_response(400, "invalid_json", f"request body is not valid JSON: {msg}")
        details = [{"field": field_path(tuple(e.get("loc", ()))), "message": plain_message(e)} for e in errors]
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details)  # every error, in plain words
        return error_response(422, "validation_error", f"invalid request: {summary}", details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(DataError)
    async def _data(_request: Request, exc: DataError) -> JSONResponse:
        # The database refused a value the schemas let through (PostgreSQL: a NUL character in text, say).
        # The transaction was rolled back; the database's own message is not shown (it may quote other data).
        log.info("database refused a value: %s", type(exc.orig).__name__)
        return error_response(
            422, "validation_error", "a value in the request cannot be stored (e.g. it contains a NUL character)"
        )

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, "internal_error", "internal server error; the details are in the server log")


class BodySizeLimit:
    """Refuse request bodies over `max_bytes` with 413, whether or not Content-Length is sent."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._reject(scope, receive, send)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._reject(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413, "payload_too_large", f"request body is larger than the limit of {self.max_bytes} bytes"
        )
        await response(scope, receive, send)


def _well_formed_id(value: str) -> str:
    """An id that cannot exist (not `prefix_` and letters and digits, or too long; a NUL byte, say) is "not found"
    at once, exactly like an id that does not exist: the database never sees it."""
    if not (len(value) <= 64 and value.isascii() and "_" in value and value.replace("_", "").isalnum()):
        raise NotFound(f"{value!r} not found")
    return value


PathId = Annotated[
    str,
    Path(description="A resource id (`dev_…`, `wh_…`, …). A malformed id is 404, like an unknown one."),
    AfterValidator(_well_formed_id),
]
"""The type of every id in a route's path: one rule, one status code (404) for malformed ids."""


@contextmanager
def unit_of_work(*, read_only: bool = False) -> Iterator[Session]:
    """One transaction for one request: committed when the block ends, before the response is built.
    `read_only`: the block only reads (on SQLite it then does not take the write lock; `core.db`)."""
    with get_database().session(read_only=read_only) as session:
        yield session


def json_response(model: BaseModel, status_code: int = 200) -> Response:
    """`model` as the JSON response, serialized once. Returned by a route that declares `response_model`, it
    skips FastAPI's second validation of what the route just built (for a sync route, a trip through a worker
    thread) and gives the same bytes: `by_alias`, compact, UTF-8."""
    return Response(model.model_dump_json(by_alias=True), status_code=status_code, media_type="application/json")


@dataclass(frozen=True)
class Limits:
    """The app's rate limiters (on `app.state.limits`): a bucket per API key, one per address for failed
    sign-ins. In-process; see `core.ratelimit`."""

    api_keys: RateLimiter
    sign_in: RateLimiter

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst),
            RateLimiter(settings.sign_in_rate_limit_per_minute, settings.sign_in_rate_limit_burst),
        )


_NO_LIMITS = Limits(RateLimiter(0, 1), RateLimiter(0, 1))


def limits(request: Request) -> Limits:
    found = getattr(request.app.state, "limits", None)
    return found if isinstance(found, Limits) else _NO_LIMITS


# --- no-store -----------------------------------------------------------------------------------------------


class NoStore:
    """`Cache-Control: no-store` on every response that does not choose its own caching (only `/static` files
    do), so nothing a browser, proxy or CDN keeps can hold a secret: API keys and webhook secrets are in API
    responses, and every other response is one organisation's data. By class, not by route: a route added
    tomorrow cannot forget it."""

    def __init__(self, app: ASGIApp, exempt_prefixes: tuple[str, ...] = ("/static/",)) -> None:
        self.app = app
        self.exempt_prefixes = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).startswith(self.exempt_prefixes):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_no_store)
