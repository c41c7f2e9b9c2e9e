"""`gitproductivity notifications ...`: the notices the organisation's owners get."""

from __future__ import annotations

from typing import Annotated

import typer

from gitproductivity.cli._common import JsonOption, OrgOption, in_org, print_json, print_table

app = typer.Typer(help="Notices for the organisation's owners.", no_args_is_help=True)


@app.command("list")
def notifications_list(
    unread: Annotated[bool, typer.Option("--unread", help="Only the ones READER has not read")] = False,
    reader: Annotated[
        str | None,
        typer.Option("--reader", help="Read state of this member (e-mail or id); default: the first owner's"),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    org: OrgOption = None,
    as_json: JsonOption = False,
) -> None:
    """Newest first: failed deliveries, endpoints disabled automatically."""
    from sqlalchemy.orm import Session

    from gitproductivity.members import service as members
    from gitproductivity.notifications import service
    from gitproductivity.notifications.schemas import notification_read
    from gitproductivity.orgs import service as orgs

    def listed(s: Session, o: str) -> list[dict[str, object]]:
        if reader:
            reader_id = members.find(s, organization_id=o, id_or_email=reader).id
        else:
            first = orgs.owners(s, organization_id=o)
            reader_id = first[0].id if first else o
        rows = service.list_(s, organization_id=o, reader_id=reader_id, unread=unread, limit=limit)[:limit]
        return [notification_read(n, at).model_dump(mode="json") for n, at in rows]

    rows = in_org(org, listed)
    if as_json:
        print_json(rows)
        return
    print_table(
        "Notifications",
        ["id", "when", "subject", "read"],
        [[n["id"], n["created_at"], n["subject"], "yes" if n["read_at"] else ""] for n in rows],
    )
