"""Who is calling: the API key (or the web UI's session) behind a request, as a FastAPI dependency."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from gitproductivity.core.errors import Unauthorized
from gitproductivity.core.http import limits, unit_of_work
from gitproductivity.orgs import service
from gitproductivity.orgs.roles import READ_METHODS, Role, require
from gitproductivity.orgs.service import Principal

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer gpk_…`")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]

# Where a request's role check leaves the principal it authenticated, for the route's `CurrentPrincipal`.
_FOUND = "gitproductivity.principal"


async def _authenticate(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    """Once per request (a second role check, or the route's principal, reads what the first found). Async on
    purpose: a key that authenticated a moment ago (`orgs.keycache`) costs no thread and no transaction; only a
    lookup goes to a worker thread."""
    found = request.scope.get(_FOUND)
    if isinstance(found, Principal):
        return found
    signed_in = getattr(request.state, "principal", None)  # set by the web UI's session middleware
    if isinstance(signed_in, Principal):
        principal = signed_in
    else:
        if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
            raise Unauthorized("missing API key: send `Authorization: Bearer <key>`")
        raw_key = credentials.credentials
        remembered = service.authenticated_key(raw_key)
        principal = remembered if remembered is not None else await run_in_threadpool(_look_up, raw_key)
        limits(request).api_keys.check(f"key:{principal.api_key_id}", "API key")
    request.scope[_FOUND] = principal
    return principal


def _look_up(raw_key: str) -> Principal:
    with unit_of_work() as session:
        return service.authenticate_api_key(session, raw_key=raw_key)


async def require_principal(request: Request) -> Principal:
    """The route's principal: the one its role check (`allow`, on every /v1 router) authenticated, so FastAPI
    solves the bearer scheme once per request, not once per dependency that needs the caller (FastAPI solves
    a dependency's own dependencies before it looks at its cache). A route without a role check authenticates
    here, reading the header as the bearer scheme does."""
    found = request.scope.get(_FOUND)
    if isinstance(found, Principal):
        return found
    return await _authenticate(request, await _bearer(request))


CurrentPrincipal = Annotated[Principal, Depends(require_principal)]


def allow(what: str, *, write: Role, read: Role = Role.VIEWER) -> Any:
    """The one role check of a route group, as a router (or route) dependency: reads need `read`, every other
    method `write`. `what` completes "your role viewer cannot change …" (say "webhooks", "members"). It
    authenticates the caller too (the bearer scheme it depends on is what the OpenAPI document shows)."""

    async def check(request: Request, credentials: Credentials) -> None:
        principal = await _authenticate(request, credentials)
        reading = request.method in READ_METHODS
        require(principal.role, read if reading else write, f"{'read' if reading else 'change'} {what}")

    return Depends(check)
