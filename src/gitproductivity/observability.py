"""`/metrics` (Prometheus text format) and the request counter, installed on the app by `install`.

The request counter is a pure ASGI wrapper (no `BaseHTTPMiddleware`: no extra task or body copy per request). It
labels each request with the route's *template* (`/v1/webhooks/{webhook_id}`), which the router leaves in the
scope, never the raw path: one series per route, however many ids are requested. A request no route matched is
counted as `unmatched`. See docs/observability.md.
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gitproductivity.core import telemetry, tracing
from gitproductivity.core.db import get_database
from gitproductivity.core.errors import Unauthorized
from gitproductivity.core.settings import Settings
from gitproductivity.webhooks import stats


class RequestMetrics:
    """Counts every HTTP request by method, route template and status (outermost, so 413s and 500s count too)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # an exception that escapes every handler is answered 500 by the server

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        if not tracing.enabled():
            try:
                await self.app(scope, receive, send_status)
            finally:
                _count(scope["method"], _route(scope), status)
            return
        with tracing.server_span(scope["method"], scope["headers"]) as span:
            try:
                await self.app(scope, receive, send_status)
            finally:
                route = _route(scope)
                _count(scope["method"], route, status)
                span.update_name(f"{scope['method']} {route}")
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)


#: The counter's children by (method, route, status): `labels()` costs a lock and a tuple of strings per call.
_children: dict[tuple[str, str, int], Any] = {}


def _count(method: str, route: str, status: int) -> None:
    child = _children.get((method, route, status))
    if child is None:
        child = _children[(method, route, status)] = telemetry.HTTP_REQUESTS.labels(method, route, str(status))
    child.inc()


def _route(scope: Scope) -> str:
    return getattr(scope.get("route"), "path", None) or _mount(scope) or "unmatched"


def _mount(scope: Scope) -> str | None:
    """A request served by a mounted app (`/static`): the mount's path, not the file's."""
    root = scope.get("root_path")
    return root if isinstance(root, str) and root else None


def install(app: FastAPI, settings: Settings) -> None:
    """The request counter always; `/metrics` unless `GITPRODUCTIVITY_METRICS_ENABLED=false`."""
    app.add_middleware(RequestMetrics)
    if not settings.metrics_enabled:
        return
    token = settings.metrics_token.get_secret_value().encode() if settings.metrics_token is not None else None

    def metrics(request: Request) -> Response:
        """Prometheus text format; with `GITPRODUCTIVITY_METRICS_TOKEN` set, only for `Authorization: Bearer <it>`."""
        if token is not None:
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token):
                raise Unauthorized("/metrics needs the metrics token: Authorization: Bearer <token>")
        body = telemetry.exposition(lambda: stats.read(get_database()))
        return Response(body, media_type=telemetry.CONTENT_TYPE)

    app.add_api_route("/metrics", metrics, methods=["GET"], include_in_schema=False)
