from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from gitproductivity.core.http import ERROR_RESPONSES, PathId, limits, unit_of_work
from gitproductivity.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, page_of
from gitproductivity.orgs import service
from gitproductivity.orgs.auth import CurrentPrincipal, allow
from gitproductivity.orgs.roles import Role
from gitproductivity.orgs.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPage,
    ApiKeyRead,
    OrganizationRead,
    PasswordChange,
    PasswordChanged,
)

router = APIRouter(
    prefix="/v1",
    tags=["organization"],
    responses=ERROR_RESPONSES,
    dependencies=[allow("the organization", write=Role.OWNER)],
)
# API keys are the owner's alone: an admin or a viewer neither lists, creates nor revokes them.
keys_router = APIRouter(
    prefix="/v1/api-keys",
    tags=["organization"],
    responses=ERROR_RESPONSES,
    dependencies=[allow("API keys", write=Role.OWNER, read=Role.OWNER)],
)
# What every member does for themselves, whatever their role.
me_router = APIRouter(
    prefix="/v1/me",
    tags=["organization"],
    responses=ERROR_RESPONSES,
    dependencies=[allow("your account", write=Role.VIEWER)],
)


@router.get("/organization", response_model=OrganizationRead)
def get_organization(principal: CurrentPrincipal) -> OrganizationRead:
    with unit_of_work() as session:
        org = service.get_organization(session, organization_id=principal.organization_id)
        return OrganizationRead.model_validate(org)


@keys_router.get("", response_model=ApiKeyPage)
def list_api_keys(
    principal: CurrentPrincipal,
    after: Annotated[
        str | None, Query(max_length=64, pattern=r"^[\w-]+$", description="Cursor: the last id of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> ApiKeyPage:
    """The organisation's API keys, revoked ones included, oldest first (the secret is never shown again)."""
    with unit_of_work() as session:
        keys = service.list_api_keys(session, organization_id=principal.organization_id, after=after, limit=limit)
        return page_of([ApiKeyRead.model_validate(k) for k in keys], limit=limit)


@keys_router.post("", status_code=201, response_model=ApiKeyCreated)
def create_api_key(body: ApiKeyCreate, principal: CurrentPrincipal) -> ApiKeyCreated:
    """A new key with `role` (default `owner`, what every key could do before roles existed)."""
    with unit_of_work() as session:
        key, raw = service.create_api_key(
            session,
            organization_id=principal.organization_id,
            name=body.name,
            role=body.role,
            granted_by=principal.role,
            user_id=principal.user_id,
        )
        return ApiKeyCreated(**ApiKeyRead.model_validate(key).model_dump(), key=raw)


@keys_router.delete("/{key_id}", response_model=ApiKeyRead)
def revoke_api_key(key_id: PathId, principal: CurrentPrincipal) -> ApiKeyRead:
    with unit_of_work() as session:
        key = service.revoke_api_key(session, organization_id=principal.organization_id, key_id=key_id)
        return ApiKeyRead.model_validate(key)


@me_router.post("/password", response_model=PasswordChanged)
def change_password(body: PasswordChange, principal: CurrentPrincipal, request: Request) -> PasswordChanged:
    """Change the password of the member the key belongs to; every web session of theirs ends. Attempts count
    against the sign-in limit (per member), so a stolen key cannot guess the password at leisure."""
    limits(request).sign_in.check(f"password:{principal.user_id or principal.api_key_id}", "member's password")
    with unit_of_work() as session:
        ended = service.change_own_password(
            session,
            user_id=principal.user_id,
            current_password=body.current_password,
            new_password=body.new_password,
        )
        return PasswordChanged(sessions_ended=ended)
