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


async def require_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Async on purpose: a key that authenticated a moment ago (`orgs.keycache`) costs no thread and no
    transaction; only a lookup goes to a worker thread."""
    signed_in = getattr(request.state, "principal", None)  # set by the web UI's session middleware
    if isinstance(signed_in, Principal):
        return signed_in
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("missing API key: send `Authorization: Bearer <key>`")
    raw_key = credentials.credentials
    principal = service.authenticated_key(raw_key)
    if principal is None:
        principal = await run_in_threadpool(_look_up, raw_key)
    limits(request).api_keys.check(f"key:{principal.api_key_id}", "API key")
    return principal


def _look_up(raw_key: str) -> Principal:
    with unit_of_work() as session:
        return service.authenticate_api_key(session, raw_key=raw_key)


CurrentPrincipal = Annotated[Principal, Depends(require_principal)]


def allow(what: str, *, write: Role, read: Role = Role.VIEWER) -> Any:
    """The one role check of a route group, as a router (or route) dependency: reads need `read`, every other
    method `write`. `what` completes "your role viewer cannot change …" (say "webhooks", "members")."""

    async def check(request: Request, principal: CurrentPrincipal) -> None:
        reading = request.method in READ_METHODS
        require(principal.role, read if reading else write, f"{'read' if reading else 'change'} {what}")

    return Depends(check)
