"""`gitproductivity events ...`: the event feed, in commit order."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from gitproductivity.cli._common import JsonOption, OrgOption, in_org, print_json, print_table

app = typer.Typer(help="The event feed (what webhooks deliver).", no_args_is_help=True)


@app.command("list")
def events_list(
    after: Annotated[str | None, typer.Option(help="Only events after this event id")] = None,
    type: Annotated[str | None, typer.Option(help="Comma-separated event types")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    org: OrgOption = None,
    as_json: JsonOption = False,
) -> None:
    """List events in commit order (the newest `limit` unless --after is given)."""
    from gitproductivity.events import service

    types = [t.strip() for t in (type or "").split(",") if t.strip()]

    def work(session: Session, org_id: str) -> list[dict[str, Any]]:
        if after or types:
            rows = service.list_(session, organization_id=org_id, after=after, types=types, limit=limit)
        else:
            rows = service.latest(session, organization_id=org_id, limit=limit)
        return [service.envelope(e) for e in rows]

    items = in_org(org, work)
    if as_json:
        print_json(items)
        return
    print_table(
        "Events",
        ["id", "type", "created_at", "data"],
        [[e["id"], e["type"], e["created_at"], json.dumps(e["data"])[:80]] for e in items],
    )
