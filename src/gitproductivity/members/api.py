"""`/v1/members`: invite people by e-mail, list them, change their role, remove them (owners only; every role
reads the list)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from gitproductivity.core.http import ERROR_RESPONSES, PathId, unit_of_work
from gitproductivity.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, page_of
from gitproductivity.core.settings import get_settings
from gitproductivity.members import service
from gitproductivity.members.schemas import MemberInvite, MemberInvited, MemberPage, MemberRead, MemberUpdate
from gitproductivity.orgs.auth import CurrentPrincipal, allow
from gitproductivity.orgs.roles import Role

router = APIRouter(
    prefix="/v1/members",
    tags=["members"],
    responses=ERROR_RESPONSES,
    dependencies=[allow("members", write=Role.OWNER)],
)


def base_url(request: Request) -> str:
    """Where invitation links point: GITPRODUCTIVITY_BASE_URL, else the address this request came to."""
    return get_settings().base_url or str(request.base_url)


@router.post("", status_code=201, response_model=MemberInvited)
def invite_member(body: MemberInvite, principal: CurrentPrincipal, request: Request) -> MemberInvited:
    """Invite someone: the answer's `accept_url` (also e-mailed when SMTP is configured) is where they choose a
    password, once, within 7 days. Inviting a pending address again sends a new link and the old one stops."""
    with unit_of_work() as session:
        member, url = service.invite(
            session,
            organization_id=principal.organization_id,
            email=body.email,
            role=body.role,
            base_url=base_url(request),
        )
        read = MemberRead.model_validate(member)
    return MemberInvited(**read.model_dump(), accept_url=url, emailed=bool(get_settings().smtp_host))


@router.get("", response_model=MemberPage)
def list_members(
    principal: CurrentPrincipal,
    after: Annotated[
        str | None, Query(max_length=64, pattern=r"^[\w-]+$", description="Cursor: the last id of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> MemberPage:
    """Members and pending invitations, oldest first."""
    with unit_of_work() as session:
        rows = service.list_(session, organization_id=principal.organization_id, after=after, limit=limit)
        return page_of([MemberRead.model_validate(m) for m in rows], limit=limit)


@router.get("/{member_id}", response_model=MemberRead)
def get_member(member_id: PathId, principal: CurrentPrincipal) -> MemberRead:
    with unit_of_work() as session:
        return MemberRead.model_validate(
            service.get(session, organization_id=principal.organization_id, member_id=member_id)
        )


@router.patch("/{member_id}", response_model=MemberRead)
def update_member(member_id: PathId, body: MemberUpdate, principal: CurrentPrincipal) -> MemberRead:
    """Change a member's role (their sessions and API keys follow at once). The last owner keeps the role: 409."""
    with unit_of_work() as session:
        member = service.update_role(
            session, organization_id=principal.organization_id, member_id=member_id, role=body.role
        )
        return MemberRead.model_validate(member)


@router.delete("/{member_id}", response_model=MemberRead)
def remove_member(member_id: PathId, principal: CurrentPrincipal) -> MemberRead:
    """Remove a member or withdraw an invitation: their sessions end and the API keys they made are revoked. The
    last owner cannot be removed: 409."""
    with unit_of_work() as session:
        member = service.remove(session, organization_id=principal.organization_id, member_id=member_id)
        return MemberRead.model_validate(member)
