from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gitproductivity.core.http import ERROR_RESPONSES, PathId, unit_of_work
from gitproductivity.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, page_of
from gitproductivity.orgs import service
from gitproductivity.orgs.auth import CurrentPrincipal
from gitproductivity.orgs.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyPage, ApiKeyRead, OrganizationRead

router = APIRouter(prefix="/v1", tags=["organization"], responses=ERROR_RESPONSES)


@router.get("/organization", response_model=OrganizationRead)
def get_organization(principal: CurrentPrincipal) -> OrganizationRead:
    with unit_of_work() as session:
        org = service.get_organization(session, organization_id=principal.organization_id)
        return OrganizationRead.model_validate(org)


@router.get("/api-keys", response_model=ApiKeyPage)
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


@router.post("/api-keys", status_code=201, response_model=ApiKeyCreated)
def create_api_key(body: ApiKeyCreate, principal: CurrentPrincipal) -> ApiKeyCreated:
    with unit_of_work() as session:
        key, raw = service.create_api_key(session, organization_id=principal.organization_id, name=body.name)
        return ApiKeyCreated(**ApiKeyRead.model_validate(key).model_dump(), key=raw)


@router.delete("/api-keys/{key_id}", response_model=ApiKeyRead)
def revoke_api_key(key_id: PathId, principal: CurrentPrincipal) -> ApiKeyRead:
    with unit_of_work() as session:
        key = service.revoke_api_key(session, organization_id=principal.organization_id, key_id=key_id)
        return ApiKeyRead.model_validate(key)
