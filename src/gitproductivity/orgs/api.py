from __future__ import annotations

from fastapi import APIRouter

from gitproductivity.core.http import ERROR_RESPONSES, PathId, unit_of_work
from gitproductivity.orgs import service
from gitproductivity.orgs.auth import CurrentPrincipal
from gitproductivity.orgs.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead, OrganizationRead

router = APIRouter(prefix="/v1", tags=["organization"], responses=ERROR_RESPONSES)


@router.get("/organization", response_model=OrganizationRead)
def get_organization(principal: CurrentPrincipal) -> OrganizationRead:
    with unit_of_work() as session:
        org = service.get_organization(session, organization_id=principal.organization_id)
        return OrganizationRead.model_validate(org)


@router.get("/api-keys", response_model=list[ApiKeyRead])
def list_api_keys(principal: CurrentPrincipal) -> list[ApiKeyRead]:
    with unit_of_work() as session:
        keys = service.list_api_keys(session, organization_id=principal.organization_id)
        return [ApiKeyRead.model_validate(k) for k in keys]


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
