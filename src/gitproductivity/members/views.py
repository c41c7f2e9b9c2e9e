"""Members pages: the list (owners invite, change roles, remove), and the page an invitation link opens, where
the invitee chooses a password. Thin handlers over `members.service`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from gitproductivity.core.errors import DomainError, ValidationFailed
from gitproductivity.core.http import unit_of_work
from gitproductivity.core.settings import get_settings
from gitproductivity.members import service
from gitproductivity.members.schemas import MemberInvite, MemberRead
from gitproductivity.orgs import service as orgs_service
from gitproductivity.orgs.roles import Role
from gitproductivity.web.helpers import CurrentViewer, Viewer, field_errors, flash, page_allows, redirect, render
from gitproductivity.web.security import SESSION_ID, csrf_token, guard

router = APIRouter(
    prefix="/members", include_in_schema=False, dependencies=[Depends(guard), page_allows("members", write=Role.OWNER)]
)
# Opened by someone not signed in yet: the link's token is their only credential.
invitations_router = APIRouter(prefix="/invitations", include_in_schema=False, dependencies=[Depends(guard)])

PAGE_SIZE = 200


def _page(
    request: Request,
    viewer: Viewer,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    invited: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    with unit_of_work() as session:
        rows = service.list_(session, organization_id=viewer.organization_id, limit=PAGE_SIZE)
        members = [MemberRead.model_validate(m) for m in rows[:PAGE_SIZE]]
    return render(
        request,
        "members.html",
        viewer,
        status_code=status_code,
        members=members,
        roles=[r.value for r in Role],
        form=form or {"role": Role.VIEWER.value},
        errors=errors or {},
        invited=invited,
    )


@router.get("")
def members_page(request: Request, viewer: CurrentViewer) -> Response:
    return _page(request, viewer)


@router.post("")
def invite(
    request: Request, viewer: CurrentViewer, email: Annotated[str, Form()] = "", role: Annotated[str, Form()] = ""
) -> Response:
    form = {"email": email, "role": role}
    try:
        body = MemberInvite.model_validate(form)
        with unit_of_work() as session:
            member, url = service.invite(
                session,
                organization_id=viewer.organization_id,
                email=body.email,
                role=body.role,
                base_url=get_settings().base_url or str(request.base_url),
            )
            address = member.email
    except (DomainError, ValidationError) as exc:
        status = exc.status_code if isinstance(exc, DomainError) else 422
        return _page(request, viewer, form=form, errors=field_errors(exc), status_code=status)
    return _page(request, viewer, invited={"email": address, "url": url}, status_code=201)


@router.post("/{member_id}/role")
def change_role(request: Request, member_id: str, viewer: CurrentViewer, role: Annotated[str, Form()] = "") -> Response:
    if role not in {r.value for r in Role}:
        raise ValidationFailed("Choose owner, admin or viewer.")
    with unit_of_work() as session:
        member = service.update_role(session, organization_id=viewer.organization_id, member_id=member_id, role=role)
        flash(request, f"{member.email} is now {member.role}.")
    return redirect("/members")


@router.post("/{member_id}/remove")
def remove(request: Request, member_id: str, viewer: CurrentViewer) -> Response:
    with unit_of_work() as session:
        member = service.remove(session, organization_id=viewer.organization_id, member_id=member_id)
        flash(request, f"{member.email} was removed.")
    return redirect("/members")


@invitations_router.get("/{token}")
def invitation_page(request: Request, token: str) -> Response:
    with unit_of_work() as session:
        member = service.invitation(session, token=token)
        email, role = member.email, member.role
    return render(request, "invitation.html", token=token, email=email, role=role, errors={})


@invitations_router.post("/{token}")
def accept(
    request: Request,
    token: str,
    password: Annotated[str, Form()] = "",
    confirm_password: Annotated[str, Form()] = "",
) -> Response:
    """Set the password: the invitee becomes an active member and is signed in."""
    try:
        if password != confirm_password:
            raise ValidationFailed(
                "confirm_password: the two passwords differ",
                details=[{"field": "confirm_password", "message": "Type the same password twice."}],
            )
        with unit_of_work() as session:
            member = service.accept(session, token=token, password=password)
            previous = request.session.get(SESSION_ID)
            if isinstance(previous, str):
                orgs_service.end_session(session, token=previous)
            session_token = orgs_service.start_session(session, user_id=member.id)
    except ValidationFailed as exc:
        with unit_of_work() as session:
            invited = service.invitation(session, token=token)
            email, role = invited.email, invited.role
        errors = field_errors(exc)
        return render(request, "invitation.html", status_code=422, token=token, email=email, role=role, errors=errors)
    request.session.clear()
    request.session[SESSION_ID] = session_token
    csrf_token(request.session)
    flash(request, "Welcome! Your password is set and you are signed in.")
    return redirect("/")
