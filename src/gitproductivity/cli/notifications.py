"""`gitproductivity notifications ...`: the notices the organisation's owners get."""

from __future__ import annotations

from typing import Annotated

import typer

from gitproductivity.cli._common import JsonOption, OrgOption, in_org, print_json, print_table

app = typer.Typer(help="Notices for the organisation's owners.", no_args_is_help=True)


@app.command("list")
def notifications_list(
    unread: Annotated[bool, typer.Option("--unread", help="Only unread ones")] = False,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    org: OrgOption = None,
    as_json: JsonOption = False,
) -> None:
    """Newest first: failed deliveries, endpoints disabled automatically."""
    from gitproductivity.notifications import service
    from gitproductivity.notifications.schemas import NotificationRead

    rows = in_org(
        org,
        lambda s, o: [
            NotificationRead.model_validate(n).model_dump(mode="json")
            for n in service.list_(s, organization_id=o, unread=unread, limit=limit)[:limit]
        ],
    )
    if as_json:
        print_json(rows)
        return
    print_table(
        "Notifications",
        ["id", "when", "subject", "read"],
        [[n["id"], n["created_at"], n["subject"], "yes" if n["read_at"] else ""] for n in rows],
    )
