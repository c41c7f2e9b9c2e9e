"""`gitproductivity developers ...`: the people in the git history (not users)."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.orm import Session

from gitproductivity.cli._common import JsonOption, OrgOption, console, in_org, print_json, print_table

app = typer.Typer(help="Developers of your organisation.", no_args_is_help=True)


@app.command("list")
def developers_list(org: OrgOption = None, as_json: JsonOption = False, removed: bool = False) -> None:
    """List developers."""
    from gitproductivity.developers import service
    from gitproductivity.developers.schemas import DeveloperRead

    def work(session: Session, org_id: str) -> list[DeveloperRead]:
        rows = service.list_(session, organization_id=org_id, limit=100_000, include_removed=removed)
        return [DeveloperRead.model_validate(d) for d in rows]

    devs = in_org(org, work)
    if as_json:
        print_json([d.model_dump(mode="json") for d in devs])
        return
    print_table(
        "Developers",
        ["id", "name", "email", "aliases", "removed"],
        [[d.id, d.name, d.email, ", ".join(d.aliases), d.removed_at or ""] for d in devs],
    )


@app.command("add")
def developers_add(
    name: Annotated[str, typer.Argument(help="Full name")],
    email: Annotated[str, typer.Argument(help="Primary email")],
    alias: Annotated[list[str] | None, typer.Option("--alias", help="Another email (repeatable)")] = None,
    org: OrgOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a developer (emits developer.added)."""
    from gitproductivity.developers import service
    from gitproductivity.developers.schemas import DeveloperRead

    dev = in_org(
        org,
        lambda s, o: DeveloperRead.model_validate(
            service.create(s, organization_id=o, name=name, email=email, aliases=alias or [])
        ),
    )
    if as_json:
        print_json(dev.model_dump(mode="json"))
    else:
        console.print(f"added {dev.id} {dev.name} <{dev.email}>")


@app.command("remove")
def developers_remove(developer_id: str, org: OrgOption = None) -> None:
    """Remove a developer (emits developer.removed; history is kept)."""
    from gitproductivity.developers import service

    dev = in_org(org, lambda s, o: service.remove(s, organization_id=o, developer_id=developer_id))
    console.print(f"removed {dev.id} {dev.name} <{dev.email}>")


@app.command("alias")
def developers_alias(
    developer_id: str,
    email: str,
    remove: Annotated[bool, typer.Option("--remove", help="Remove the alias instead of adding it.")] = False,
    org: OrgOption = None,
) -> None:
    """Add (or --remove) another email of a developer."""
    from gitproductivity.developers import service

    change = service.remove_alias if remove else service.add_alias
    dev = in_org(org, lambda s, o: change(s, organization_id=o, developer_id=developer_id, email=email))
    console.print(f"{dev.id} {dev.name} <{dev.email}> aliases: {', '.join(dev.aliases) or '-'}")


@app.command("merge")
def developers_merge(
    developer_id: Annotated[str, typer.Argument(help="The developer to keep")],
    other_id: Annotated[str, typer.Argument(help="The developer folded into it (then removed)")],
    org: OrgOption = None,
) -> None:
    """Merge two developers: emails become aliases, metrics are added together."""
    from gitproductivity.developers import flows

    dev = in_org(org, lambda s, o: flows.merge(s, organization_id=o, developer_id=developer_id, other_id=other_id))
    console.print(f"merged {other_id} into {dev.id} {dev.name} <{dev.email}>")
