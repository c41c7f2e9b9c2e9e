"""`gitproductivity teams ...`: named groups of developers (a developer may be in several)."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.orm import Session

from gitproductivity.cli._common import JsonOption, OrgOption, console, in_org, print_json, print_table

app = typer.Typer(help="Teams: named groups of developers.", no_args_is_help=True)

TeamArg = Annotated[str, typer.Argument(help="The team's name or id")]
DeveloperArg = Annotated[str, typer.Argument(help="The developer's e-mail (any of theirs) or id")]


def _developer_id(session: Session, org_id: str, ref: str) -> str:
    from gitproductivity.core.errors import NotFound
    from gitproductivity.developers import service as developers

    if ref.startswith("dev_"):
        return ref
    dev = developers.find_by_email(session, organization_id=org_id, email=ref)
    if dev is None:
        raise NotFound(f"no developer has the e-mail {ref}")
    return dev.id


@app.command("create")
def teams_create(
    name: Annotated[str, typer.Argument(help="Unique in the organisation, in any case")],
    org: OrgOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a team."""
    from gitproductivity.teams import service

    def work(session: Session, org_id: str) -> dict[str, str]:
        team = service.create(session, organization_id=org_id, name=name)
        return {"id": team.id, "name": team.name}

    team = in_org(org, work)
    if as_json:
        print_json(team)
    else:
        console.print(f"created team {team['name']} ({team['id']})")


@app.command("list")
def teams_list(org: OrgOption = None, as_json: JsonOption = False) -> None:
    """List teams, with their number of current developers."""
    from gitproductivity.teams import flows

    def work(session: Session, org_id: str) -> list[dict[str, object]]:
        rows, _total, _cursor = flows.list_(session, organization_id=org_id, limit=100_000)
        return rows

    rows = in_org(org, work)
    if as_json:
        print_json(rows)
        return
    print_table("Teams", ["id", "name", "developers"], [[r["id"], r["name"], r["member_count"]] for r in rows])


@app.command("add")
def teams_add(team: TeamArg, developer: DeveloperArg, org: OrgOption = None) -> None:
    """Put a developer in a team (nothing changes if they are in it already)."""
    from gitproductivity.teams import flows, service

    def work(session: Session, org_id: str) -> str:
        found = service.find(session, organization_id=org_id, ref=team)
        dev_id = _developer_id(session, org_id, developer)
        added = flows.add_developer(session, organization_id=org_id, team_id=found.id, developer_id=dev_id)
        return f"added {developer} to team {found.name}" if added else f"{developer} is already in team {found.name}"

    console.print(in_org(org, work))


@app.command("remove")
def teams_remove(team: TeamArg, developer: DeveloperArg, org: OrgOption = None) -> None:
    """Take a developer out of a team (their history stays)."""
    from gitproductivity.teams import flows, service

    def work(session: Session, org_id: str) -> str:
        found = service.find(session, organization_id=org_id, ref=team)
        dev_id = _developer_id(session, org_id, developer)
        gone = flows.remove_developer(session, organization_id=org_id, team_id=found.id, developer_id=dev_id)
        return f"removed {developer} from team {found.name}" if gone else f"{developer} was not in team {found.name}"

    console.print(in_org(org, work))


@app.command("delete")
def teams_delete(team: TeamArg, org: OrgOption = None) -> None:
    """Delete a team (its developers and their history stay)."""
    from gitproductivity.teams import service

    def work(session: Session, org_id: str) -> str:
        found = service.find(session, organization_id=org_id, ref=team)
        service.delete_(session, organization_id=org_id, team_id=found.id)
        return found.name

    console.print(f"deleted team {in_org(org, work)}")
