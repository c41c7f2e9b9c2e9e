"""`gitproductivity metrics`: per-developer totals (`--languages`: with each one's top languages);
`gitproductivity hours`: commits per hour of the week in the authors' own time zones."""

from __future__ import annotations

from dataclasses import asdict
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
    languages: Annotated[
        bool,
        typer.Option(
            "--languages", help="Each developer's top languages (lines added + deleted), in a table of their own."
        ),
    ] = False,
    org: OrgOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print per-developer totals (commits, merges, lines, files, active days)."""
    from gitproductivity.metrics import service

    first, last = _parse_day(start, "--from"), _parse_day(end, "--to")

    def work(session: Session, org_id: str) -> list[dict[str, Any]]:
        from gitproductivity.metrics import activity
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
        found = [
            {"developer_id": d.id, "name": d.name, "email": d.email, **service.public(t.as_dict())} for d, t in rows
        ]
        if languages:
            top = activity.top_languages(
                session,
                organization_id=org_id,
                developer_ids=[d.id for d, _ in rows],
                repository_id=repository,
                start=first,
                end=last,
            )
            for row in found:
                row["languages"] = [asdict(t) for t in top.get(row["developer_id"], [])]
        return found

    rows = in_org(org, work)
    if as_json:
        print_json(rows)
        return
    if languages:  # a table of its own: the languages beside the figures they come from
        keys = ["commits", "lines_added", "lines_deleted"]
        headers = ["developer", "email", *[k.replace("_", " ") for k in keys], "top languages"]
        print_table(
            "Developer languages", headers, [[r["name"], r["email"], *[r[k] for k in keys], _top(r)] for r in rows]
        )
        return
    keys = ["commits", "merges", "lines_added", "lines_deleted", "files_changed", "active_days"]
    keys += ["new_work", "refactor", "rework", "help_others", "co_authored_commits"]
    print_table(
        "Developer metrics",
        ["developer", "email", *[k.replace("_", " ") for k in keys], "last commit"],
        [[r["name"], r["email"], *[r[k] for k in keys], r["last_commit_at"]] for r in rows],
    )


def _top(row: dict[str, Any], shown: int = 3) -> str:
    """`Python 120, Go 40`: lines added + deleted in the developer's first `shown` languages."""
    return ", ".join(f"{t['language']} {t['lines_added'] + t['lines_deleted']}" for t in row["languages"][:shown])


DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def hours_cmd(
    developer: Annotated[str | None, typer.Option("--developer", help="Only this developer id.")] = None,
    repository: Annotated[str | None, typer.Option("--repository", help="Only this repository id.")] = None,
    team: Annotated[str | None, typer.Option("--team", help="Only the developers of this team (name or id).")] = None,
    start: Annotated[str | None, typer.Option("--from", help="First UTC day, YYYY-MM-DD.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last UTC day, YYYY-MM-DD.")] = None,
    bots: Annotated[bool, typer.Option("--bots", help="Include bots.")] = False,
    org: OrgOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print commits per weekday and hour, each in its author's own time zone (Monday 00:00 first)."""
    from gitproductivity.metrics import activity
    from gitproductivity.metrics.service import Scope

    first, last = _parse_day(start, "--from"), _parse_day(end, "--to")

    def work(session: Session, org_id: str) -> list[int]:
        from gitproductivity.teams import service as teams

        team_id = teams.find(session, organization_id=org_id, ref=team).id if team else None
        return activity.hours(session, Scope(org_id, repository, team_id, developer, first, last, bots))

    counts = in_org(org, work)
    if as_json:
        print_json({"commits": sum(counts), "hours": counts})
        return
    print_table(
        f"Commits per hour of the week ({sum(counts)} in all, authors' own time zones)",
        ["hour", *DAYS],  # one row an hour: fits a terminal 80 columns wide
        [[f"{h:02d}:00", *[counts[d * 24 + h] or "·" for d in range(7)]] for h in range(24)],
    )


def _parse_day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CliError(f"{option} must be a date like 2026-03-19, not {value!r}") from None
