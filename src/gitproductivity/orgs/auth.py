"""Who is calling: the API key (or the web UI's session) behind a request, as a FastAPI dependency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gitproductivity.core.errors import Unauthorized
from gitproductivity.core.http import limits, unit_of_work
from gitproductivity.orgs import service
from gitproductivity.orgs.service import Principal

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer gpk_…`")


def require_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    principal = getattr(request.state, "principal", None)  # set by the web UI's session middleware
    if isinstance(principal, Principal):
        return principal
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("missing API key: send `Authorization: Bearer <key>`")
    with unit_of_work() as session:
        principal = service.authenticate_api_key(session, raw_key=credentials.credentials)
    limits(request).api_keys.check(f"key:{principal.api_key_id}", "API key")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(require_principal)]
