"""`gitproductivity ownership`: who owns a repository's lines at its analysed head, and its bus factor."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from gitproductivity.cli._common import JsonOption, OrgOption, console, in_org, print_json, print_table


def ownership_cmd(
    repository_id: Annotated[str, typer.Argument(help="Repository id.")],
    path: Annotated[str, typer.Option("--path", help="A directory of the repository (default: all of it).")] = "",
    org: OrgOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print the owners of a directory's lines (as git blame assigns them), its bus factor and subdirectories."""
    from gitproductivity.analysis import ownership_store
    from gitproductivity.analysis.schemas import OwnershipRead

    def work(session: Session, org_id: str) -> dict[str, Any]:
        found = ownership_store.get(session, organization_id=org_id, repository_id=repository_id, path=path)
        return OwnershipRead.model_validate(found).model_dump(mode="json")

    data = in_org(org, work)
    if as_json:
        print_json(data)
        return
    where = data["path"] or "(root)"
    head = (data["head_commit"] or "not computed yet")[:12]
    print_table(
        f"Ownership of {where} at {head}",
        ["developer", "email", "lines", "share", "bot"],
        [
            [o["name"], o["email"], o["lines"], f"{o['share']:.1%}", "yes" if o["is_bot"] else ""]
            for o in data["owners"]
        ],
    )
    console.print(
        f"Bus factor: {data['bus_factor']} · {data['lines']} lines in {data['files']} files"
        + (f" · {data['unattributed_lines']} unattributed" if data["unattributed_lines"] else "")
    )
    if data["directories"]:
        print_table(
            "Subdirectories",
            ["directory", "files", "lines", "bus factor"],
            [[d["path"], d["files"], d["lines"], d["bus_factor"]] for d in data["directories"]],
        )
