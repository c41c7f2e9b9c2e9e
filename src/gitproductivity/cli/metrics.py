"""`gitproductivity metrics`: per-developer totals."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from gitproductivity.cli._common import CliError, JsonOption, OrgOption, in_org, print_json, print_table


def metrics_cmd(
    repository: Annotated[str | None, typer.Option("--repository", help="Only this repository id.")] = None,
    team: Annotated[str | None, typer.Option("--team", help="Only the developers of this team (name or id).")] = None,
    start: Annotated[str | None, typer.Option("--from", help="First UTC day, YYYY-MM-DD.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last UTC day, YYYY-MM-DD.")] = None,
    bots: Annotated[bool, typer.Option("--bots", help="Include bots.")] = False,
    org: OrgOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print per-developer totals (commits, merges, lines, files, active days)."""
    from gitproductivity.metrics import service

    first, last = _parse_day(start, "--from"), _parse_day(end, "--to")

    def work(session: Session, org_id: str) -> list[dict[str, Any]]:
        from gitproductivity.teams import service as teams

        team_id = teams.find(session, organization_id=org_id, ref=team).id if team else None
        rows = service.developers_summary(
            session,
            organization_id=org_id,
            repository_id=repository,
            team_id=team_id,
            start=first,
            end=last,
            include_bots=bots,
        )
        return [
            {"developer_id": d.id, "name": d.name, "email": d.email, **service.public(t.as_dict())} for d, t in rows
        ]

    rows = in_org(org, work)
    if as_json:
        print_json(rows)
        return
    keys = ["commits", "merges", "lines_added", "lines_deleted", "files_changed", "active_days"]
    keys += ["new_work", "refactor", "rework", "help_others", "co_authored_commits"]
    print_table(
        "Developer metrics",
        ["developer", "email", *[k.replace("_", " ") for k in keys], "last commit"],
        [[r["name"], r["email"], *[r[k] for k in keys], r["last_commit_at"]] for r in rows],
    )


def _parse_day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CliError(f"{option} must be a date like 2026-03-19, not {value!r}") from None
