"""`gitproductivity members ...`: who may sign in to the organisation, and with which role (owner, admin, viewer).
The operator's shell acts as an owner: the same rules hold (the last owner stays)."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.orm import Session

from gitproductivity.cli._common import JsonOption, OrgOption, console, err, in_org, print_json, print_table

app = typer.Typer(help="Members of your organisation and their roles.", no_args_is_help=True)

RoleOption = Annotated[
    str,
    typer.Option(
        "--role",
        help="owner (everything, members and API keys), admin (repositories, developers, "
        "webhooks) or viewer (reads all but secrets)",
    ),
]


def _base_url() -> str:
    from gitproductivity.core.settings import get_settings

    settings = get_settings()
    if settings.base_url:
        return settings.base_url
    err.print(
        "note: GITPRODUCTIVITY_BASE_URL is not set; the link below uses "
        f"http://{settings.host}:{settings.port}, which may not be how people reach this server",
        highlight=False,
    )
    return f"http://{settings.host}:{settings.port}"


def _check_role(role: str) -> str:
    from gitproductivity.orgs.roles import Role

    if role not in {r.value for r in Role}:
        raise typer.BadParameter("choose owner, admin or viewer", param_hint="--role")
    return role


@app.command("invite")
def members_invite(
    email: Annotated[str, typer.Argument(help="Who to invite")],
    role: RoleOption = "viewer",
    org: OrgOption = None,
    as_json: JsonOption = False,
) -> None:
    """Invite someone: prints their one-time link (valid 7 days), and e-mails it when SMTP is configured."""
    from gitproductivity.core.settings import get_settings
    from gitproductivity.members import service
    from gitproductivity.members.schemas import MemberInvited, MemberRead

    _check_role(role)
    base = _base_url()

    def work(session: Session, org_id: str) -> MemberInvited:
        member, url = service.invite(session, organization_id=org_id, email=email, role=role, base_url=base)
        read = MemberRead.model_validate(member)
        return MemberInvited(**read.model_dump(), accept_url=url, emailed=bool(get_settings().smtp_host))

    invited = in_org(org, work)
    if as_json:
        print_json(invited.model_dump(mode="json"))
        return
    console.print(f"invited {invited.email} as {invited.role.value} ({invited.id})", highlight=False)
    console.print("they choose a password at this link (once, within 7 days):", highlight=False)
    console.print(invited.accept_url, highlight=False, soft_wrap=True)
    if invited.emailed:
        console.print("the link was also e-mailed to them", highlight=False)


@app.command("list")
def members_list(org: OrgOption = None, as_json: JsonOption = False) -> None:
    """Members and pending invitations, oldest first."""
    from gitproductivity.members import service
    from gitproductivity.members.schemas import MemberRead

    rows = in_org(
        org,
        lambda s, o: [MemberRead.model_validate(m) for m in service.list_(s, organization_id=o, limit=100_000)],
    )
    if as_json:
        print_json([m.model_dump(mode="json") for m in rows])
        return
    print_table("Members", ["id", "email", "role", "status"], [[m.id, m.email, m.role.value, m.status] for m in rows])


@app.command("set-role")
def members_set_role(
    member: Annotated[str, typer.Argument(help="The member's id or e-mail address")],
    role: RoleOption,
    org: OrgOption = None,
) -> None:
    """Change a member's role (the last owner keeps theirs)."""
    from gitproductivity.members import service

    _check_role(role)

    def work(session: Session, org_id: str) -> str:
        found = service.find(session, organization_id=org_id, id_or_email=member)
        return service.update_role(session, organization_id=org_id, member_id=found.id, role=role).email

    console.print(f"{in_org(org, work)} is now {role}", highlight=False)


@app.command("remove")
def members_remove(
    member: Annotated[str, typer.Argument(help="The member's id or e-mail address")],
    org: OrgOption = None,
) -> None:
    """Remove a member or withdraw an invitation: their sessions end and the API keys they made are revoked."""
    from gitproductivity.members import service

    def work(session: Session, org_id: str) -> str:
        found = service.find(session, organization_id=org_id, id_or_email=member)
        return service.remove(session, organization_id=org_id, member_id=found.id).email

    console.print(f"removed {in_org(org, work)}", highlight=False)
