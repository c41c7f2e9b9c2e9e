"""`gitproductivity repositories ...`: connect, list and disconnect repositories, and analyse one in this process."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gitproductivity.cli._common import (
    CliError,
    JsonOption,
    OrgOption,
    console,
    ensure_schema,
    in_org,
    print_json,
    print_table,
    progress_bar,
    resolve_org,
    session_scope,
)

app = typer.Typer(help="Connected git repositories.", no_args_is_help=True)


@app.command("list")
def repositories_list(org: OrgOption = None, as_json: JsonOption = False) -> None:
    """List repositories."""
    from gitproductivity.repositories import service
    from gitproductivity.repositories.schemas import RepositoryRead

    repos = in_org(
        org,
        lambda s, o: [RepositoryRead.model_validate(r) for r in service.list_(s, organization_id=o, limit=100_000)],
    )
    if as_json:
        print_json([r.model_dump(mode="json") for r in repos])
        return
    print_table("Repositories", ["id", "name", "url", "status"], [[r.id, r.name, r.url, r.status] for r in repos])


@app.command("connect")
def repositories_connect(
    url: Annotated[str, typer.Argument(help="Local path, file://, https://, ssh:// or user@host:path")],
    name: Annotated[str | None, typer.Option(help="Display name (default: from the URL)")] = None,
    branch: Annotated[str | None, typer.Option(help="Analyse this branch (default: the default branch)")] = None,
    org: OrgOption = None,
    as_json: JsonOption = False,
) -> None:
    """Connect a repository (emits repository.connected and queues its first analysis)."""
    from gitproductivity.repositories import flows
    from gitproductivity.repositories.schemas import RepositoryRead

    if not url.startswith("-") and "://" not in url and "::" not in url and Path(url).exists():
        url = str(Path(url).resolve())  # a relative path is relative to where the command runs
    repo = in_org(
        org,
        lambda s, o: RepositoryRead.model_validate(
            flows.connect(s, organization_id=o, url=url, name=name, branch=branch)
        ),
    )
    if as_json:
        print_json(repo.model_dump(mode="json"))
    else:
        console.print(f"connected {repo.id} {repo.name} ({repo.url})")


@app.command("disconnect")
def repositories_disconnect(repository_id: str, org: OrgOption = None) -> None:
    """Disconnect a repository (emits repository.disconnected; its metrics are kept)."""
    from gitproductivity.repositories import service

    repo = in_org(org, lambda s, o: service.disconnect(s, organization_id=o, repository_id=repository_id))
    console.print(f"disconnected {repo.id} {repo.name}")


@app.command("analyze")
def repositories_analyze(
    repository_id: str,
    full: Annotated[bool, typer.Option("--full", help="Read the whole history again, not only new commits.")] = False,
    org: OrgOption = None,
    as_json: JsonOption = False,
) -> None:
    """Analyse a repository now, in this process, with a progress bar (emits the same events as a worker)."""
    from gitproductivity.analysis import jobs, run
    from gitproductivity.analysis.schemas import AnalysisRead
    from gitproductivity.repositories import service as repositories

    ensure_schema()
    with session_scope() as session:
        org_id = resolve_org(session, org)
        repositories.get(session, organization_id=org_id, repository_id=repository_id)
    with progress_bar("analysing", "commits", disable=as_json) as on_progress:
        analysis_id = run.run_now(
            organization_id=org_id, repository_id=repository_id, full=full, trigger="cli", on_progress=on_progress
        )
    with session_scope() as session:
        result = AnalysisRead.model_validate(jobs.get(session, organization_id=org_id, analysis_id=analysis_id))
    if as_json:
        print_json(result.model_dump(mode="json"))
    if result.status != "succeeded":
        raise CliError(f"analysis {result.id} failed: {result.error}")
    if not as_json:
        console.print(
            f"{result.id} {result.status}: {result.mode}"
            f"{f' ({result.reason})' if result.reason else ''}, {result.commits_analysed} commits read, "
            f"{result.new_commits} new, {result.developers_updated} developers updated, head {result.head_commit}"
        )
        if result.skipped_commits:
            why = ", ".join(f"{r.count} {r.reason.replace('_', ' ')}" for r in result.skipped_reasons)
            plural = "s" if result.skipped_commits != 1 else ""
            console.print(f"{result.skipped_commits} commit{plural} skipped ({why}): `GET /v1/analyses/{result.id}`")
