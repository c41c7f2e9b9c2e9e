"""The `gitproductivity` command. It calls the same services as the API, on the configured database."""

from __future__ import annotations

import json
import logging
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from gitproductivity.core import migrate
from gitproductivity.core.db import get_database
from gitproductivity.core.errors import DomainError
from gitproductivity.core.settings import get_settings

app = typer.Typer(
    name="gitproductivity",
    help="Per-developer metrics from git history, delivered through signed, retried webhooks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
developers_app = typer.Typer(help="Developers of your organisation.", no_args_is_help=True)
repositories_app = typer.Typer(help="Connected git repositories.", no_args_is_help=True)
events_app = typer.Typer(help="The event feed (what webhooks deliver).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(developers_app, name="developers")
app.add_typer(repositories_app, name="repositories")
webhooks_app = typer.Typer(help="Webhook endpoints and their deliveries.", no_args_is_help=True)
notifications_app = typer.Typer(help="Notices for the organisation's owners.", no_args_is_help=True)
app.add_typer(events_app, name="events")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(notifications_app, name="notifications")

console = Console()
err = Console(stderr=True, soft_wrap=True)


@app.callback()
def _start() -> None:
    """Per-developer metrics from git history, delivered through signed, retried webhooks."""
    from gitproductivity import startup

    startup.install()


OrgOption = Annotated[
    str | None,
    typer.Option("--org", envvar="GITPRODUCTIVITY_ORG", help="Organisation id (needed only when there are several)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

T = TypeVar("T")


class CliError(Exception):
    """A problem to report in one line, without a traceback."""


def setup_logging() -> None:
    logging.basicConfig(
        level=get_settings().log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def ensure_schema() -> None:
    migrate.upgrade(get_database().engine)


@contextmanager
def session_scope() -> Iterator[Session]:
    with get_database().session() as session:
        yield session


def resolve_org(session: Session, org: str | None) -> str:
    from gitproductivity.orgs.models import Organization

    if org:
        if session.get(Organization, org) is None:
            raise CliError(f"organisation {org} not found")
        return org
    ids = list(session.scalars(select(Organization.id).limit(2)))
    if not ids:
        raise CliError("no organisation yet: run `gitproductivity init --email you@example.com` first")
    if len(ids) > 1:
        raise CliError("there are several organisations: pass --org ORG_ID (or set GITPRODUCTIVITY_ORG)")
    return ids[0]


def in_org(org: str | None, work: Callable[[Session, str], T]) -> T:
    """Run `work(session, organization_id)` in one transaction, after making sure the schema is current."""
    ensure_schema()
    with session_scope() as session:
        return work(session, resolve_org(session, org))


def print_json(value: Any) -> None:
    console.print_json(json.dumps(value, default=str))


def print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(title=title, show_lines=False)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*["" if v is None else str(v) for v in row])
    console.print(table)


# --- server, worker, database ---------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[
        bool | None,
        typer.Option(
            "--workers/--no-workers",
            help="Run the background workers here (default: GITPRODUCTIVITY_RUN_WORKERS_IN_SERVER, true).",
        ),
    ] = None,
) -> None:
    """Start the API, the web UI and (unless --no-workers) the background workers in one process."""
    import uvicorn

    from gitproductivity.app import create_app
    from gitproductivity.orgs import service as orgs

    setup_logging()
    settings = get_settings()
    ensure_schema()
    with session_scope() as session:
        created = None if orgs.any_exist(session) else orgs.bootstrap(session, email="admin@example.com")
    if created is not None:
        err.print(
            "[bold]First start: created an organisation and its owner. These secrets are shown only once:[/bold]\n"
            f"  organisation  {created.organization.id}\n"
            f"  sign in       {created.user.email} / {created.password}\n"
            f"  API key       {created.api_key}\n"
            "  (Use `gitproductivity init --email you@example.com` before the first start to choose the email.)"
        )
    bind_host, bind_port = host or settings.host, port or settings.port
    err.print(f"GitProductivity on http://{bind_host}:{bind_port}  (database: {_safe_db_label()})")
    config = uvicorn.Config(
        create_app(run_workers=workers), host=bind_host, port=bind_port, log_level=settings.log_level.lower()
    )
    _server_class()(config).run()


def _server_class() -> type[Any]:
    import uvicorn

    from gitproductivity.events import service as events

    class Server(uvicorn.Server):
        """Ends long-polls at shutdown, which otherwise waits for them (up to their `wait`) before exiting."""

        async def shutdown(self, sockets: Any = None) -> None:
            events.stop_waiting()
            await super().shutdown(sockets)

    return Server


def _safe_db_label() -> str:
    from sqlalchemy import make_url

    return make_url(get_database().url).render_as_string(hide_password=True)


@app.command("worker")
def worker_cmd(
    only: Annotated[str | None, typer.Option(help="Comma-separated component names (default: all).")] = None,
) -> None:
    """Run the background workers only (any number of these may share one PostgreSQL database)."""
    from gitproductivity import worker

    setup_logging()
    ensure_schema()
    selected = {p.strip() for p in only.split(",") if p.strip()} if only else None
    if selected:
        unknown = selected - set(worker.components())
        if unknown:
            raise CliError(
                f"unknown component(s): {', '.join(sorted(unknown))}; known: {', '.join(worker.components())}"
            )
    worker.run_forever(only=selected)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply any pending migrations."""
    ensure_schema()
    heads = migrate.current_heads(get_database().engine)
    console.print(f"database is up to date ({', '.join(sorted(heads))})")


@app.command()
def init(
    email: Annotated[str, typer.Option(help="The owner's email (used to sign in).")],
    org: Annotated[str, typer.Option("--org", help="Organisation name.")] = "My organization",
    as_json: JsonOption = False,
) -> None:
    """Create an organisation, its owner and a first API key; print the secrets once."""
    from gitproductivity.orgs import service as orgs

    ensure_schema()
    with session_scope() as session:
        created = orgs.bootstrap(session, email=email, org_name=org)
    if as_json:
        print(
            json.dumps(
                {
                    "organization_id": created.organization.id,
                    "email": created.user.email,
                    "password": created.password,
                    "api_key": created.api_key,
                }
            )
        )
        return
    console.print(
        f"Created organisation [bold]{created.organization.name}[/bold] ({created.organization.id}).\n"
        f"  sign in   {created.user.email} / {created.password}\n"
        f"  API key   {created.api_key}\n"
        "These secrets are shown only once."
    )


# --- developers ---------------------------------------------------------------------------------------------


@developers_app.command("list")
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


@developers_app.command("add")
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


@developers_app.command("remove")
def developers_remove(developer_id: str, org: OrgOption = None) -> None:
    """Remove a developer (emits developer.removed; history is kept)."""
    from gitproductivity.developers import service

    dev = in_org(org, lambda s, o: service.remove(s, organization_id=o, developer_id=developer_id))
    console.print(f"removed {dev.id} {dev.name} <{dev.email}>")


# --- repositories ---------------------------------------------------------------------------------------------


@repositories_app.command("list")
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


@repositories_app.command("connect")
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


@repositories_app.command("disconnect")
def repositories_disconnect(repository_id: str, org: OrgOption = None) -> None:
    """Disconnect a repository (emits repository.disconnected; its metrics are kept)."""
    from gitproductivity.repositories import service

    repo = in_org(org, lambda s, o: service.disconnect(s, organization_id=o, repository_id=repository_id))
    console.print(f"disconnected {repo.id} {repo.name}")


# --- events ---------------------------------------------------------------------------------------------------


@events_app.command("list")
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


# --- webhooks -------------------------------------------------------------------------------------------------


def _hook_json(hook: Any, *, secret: bool = False) -> dict[str, Any]:
    from gitproductivity.webhooks.schemas import WebhookRead, WebhookWithSecret, webhook_read

    read = webhook_read(hook, WebhookWithSecret if secret else WebhookRead)
    result: dict[str, Any] = read.model_dump(mode="json")
    return result


def _print_test(test: dict[str, Any] | None) -> None:
    if not test:
        return
    if test["ok"]:
        console.print(f"test webhook: [green]OK[/green] HTTP {test['status_code']} in {test['latency_ms']:.0f} ms")
    else:
        console.print(f"test webhook: [red]FAILED[/red] {test['error']} (delivery {test['delivery_id']})")


@webhooks_app.command("add")
def webhooks_add(
    url: Annotated[str, typer.Argument(help="Where to POST events (http or https)")],
    events: Annotated[str, typer.Option("--events", help="Comma-separated event types, or * for all")] = "*",
    description: Annotated[str, typer.Option(help="A note for people")] = "",
    org: OrgOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add an endpoint, then send it a test webhook at once; prints the secret."""
    from gitproductivity.webhooks import endpoints, testing

    types = [t.strip() for t in events.split(",") if t.strip()]
    created = in_org(
        org, lambda s, o: endpoints.create(s, organization_id=o, url=url, events=types, description=description)
    )
    hook = _hook_json(testing.test_webhook(organization_id=created.organization_id, webhook_id=created.id), secret=True)
    if as_json:
        print_json(hook)
        return
    console.print(f"added {hook['id']} {hook['url']} ({', '.join(hook['events'])})\n  secret  {hook['secret']}")
    _print_test(hook["last_test"])


@webhooks_app.command("list")
def webhooks_list(org: OrgOption = None, as_json: JsonOption = False) -> None:
    """List endpoints."""
    from gitproductivity.webhooks import endpoints

    hooks = in_org(org, lambda s, o: [_hook_json(h) for h in endpoints.list_(s, organization_id=o, limit=100_000)])
    if as_json:
        print_json(hooks)
        return
    print_table(
        "Webhooks",
        ["id", "url", "events", "status", "last test"],
        [
            [
                h["id"],
                h["url"],
                ",".join(h["events"]),
                h["status"],
                "" if not h["last_test"] else ("ok" if h["last_test"]["ok"] else h["last_test"]["error"]),
            ]
            for h in hooks
        ],
    )


@webhooks_app.command("show")
def webhooks_show(webhook_id: str, org: OrgOption = None) -> None:
    """Show one endpoint as JSON (with its secret)."""
    from gitproductivity.webhooks import endpoints

    print_json(
        in_org(org, lambda s, o: _hook_json(endpoints.get(s, organization_id=o, webhook_id=webhook_id), secret=True))
    )


@webhooks_app.command("test")
def webhooks_test(
    webhook_id: str,
    event: Annotated[str, typer.Option(help="Send a sample of this event type (data.test = true)")] = "webhook.test",
    org: OrgOption = None,
) -> None:
    """Send a test delivery now and print the outcome (exit 1 when it failed)."""
    from gitproductivity.webhooks import endpoints, testing

    org_id = in_org(org, lambda s, o: endpoints.get(s, organization_id=o, webhook_id=webhook_id).organization_id)
    hook = _hook_json(testing.test_webhook(organization_id=org_id, webhook_id=webhook_id, event_type=event))
    _print_test(hook["last_test"])
    if not hook["last_test"]["ok"]:
        raise typer.Exit(1)


@webhooks_app.command("rotate-secret")
def webhooks_rotate(
    webhook_id: str,
    overlap: Annotated[float | None, typer.Option(help="Seconds the old secret keeps signing (default 24 h)")] = None,
    org: OrgOption = None,
) -> None:
    """Issue a new secret; the old one also signs until the overlap ends."""
    from gitproductivity.webhooks import endpoints

    hook = in_org(
        org,
        lambda s, o: _hook_json(
            endpoints.rotate_secret(s, organization_id=o, webhook_id=webhook_id, overlap_seconds=overlap), secret=True
        ),
    )
    console.print(f"new secret  {hook['secret']}\nold secret valid until {hook['secret_rotation_ends_at'] or 'now'}")


def _set_enabled(webhook_id: str, enabled: bool, org: str | None) -> None:
    from gitproductivity.webhooks import endpoints

    hook = in_org(
        org, lambda s, o: _hook_json(endpoints.update_(s, organization_id=o, webhook_id=webhook_id, enabled=enabled))
    )
    console.print(f"{hook['id']} {hook['status']}")


@webhooks_app.command("disable")
def webhooks_disable(webhook_id: str, org: OrgOption = None) -> None:
    """Stop deliveries (they are held, not dropped)."""
    _set_enabled(webhook_id, False, org)


@webhooks_app.command("enable")
def webhooks_enable(webhook_id: str, org: OrgOption = None) -> None:
    """Resume deliveries, held ones included."""
    _set_enabled(webhook_id, True, org)


@webhooks_app.command("remove")
def webhooks_remove(webhook_id: str, org: OrgOption = None) -> None:
    """Remove an endpoint with its deliveries and their log."""
    from gitproductivity.webhooks import endpoints

    hook = in_org(org, lambda s, o: endpoints.delete_(s, organization_id=o, webhook_id=webhook_id))
    console.print(f"removed {hook.id}")


@webhooks_app.command("deliveries")
def webhooks_deliveries(
    webhook_id: str,
    status: Annotated[str | None, typer.Option(help="pending, succeeded or failed")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    org: OrgOption = None,
    as_json: JsonOption = False,
) -> None:
    """The newest deliveries of an endpoint."""
    from gitproductivity.webhooks import deliveries
    from gitproductivity.webhooks.models import DeliveryStatus
    from gitproductivity.webhooks.schemas import DeliveryRead

    if status is not None and status not in tuple(DeliveryStatus):
        raise CliError(f"--status must be one of {', '.join(tuple(DeliveryStatus))}")
    rows = in_org(
        org,
        lambda s, o: [
            DeliveryRead.model_validate(d).model_dump(mode="json")
            for d in deliveries.list_(s, organization_id=o, webhook_id=webhook_id, status=status, limit=limit)[:limit]
        ],
    )
    if as_json:
        print_json(rows)
        return
    print_table(
        "Deliveries",
        ["id", "event", "status", "attempts", "last", "next attempt"],
        [
            [
                d["id"],
                d["event_type"] + (" (test)" if d["is_test"] else ""),
                d["status"],
                d["attempts"],
                d["last_error"] or d["last_status_code"] or "",
                d["next_attempt_at"] or "",
            ]
            for d in rows
        ],
    )


@webhooks_app.command("redeliver")
def webhooks_redeliver(delivery_id: str, org: OrgOption = None) -> None:
    """Queue the same event again for the same endpoint (a worker or the server sends it)."""
    from gitproductivity.webhooks import deliveries

    copy = in_org(org, lambda s, o: deliveries.redeliver(s, organization_id=o, delivery_id=delivery_id))
    console.print(f"queued {copy.id} (event {copy.event_id})")


# --- notifications --------------------------------------------------------------------------------------------


@notifications_app.command("list")
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


# --- local development ------------------------------------------------------------------------------------------


@app.command()
def listen(
    forward_to: Annotated[str, typer.Option("--forward-to", help="Local URL to POST each event to.")],
    events: Annotated[str | None, typer.Option(help="Comma-separated event types (default: all).")] = None,
    api_url: Annotated[
        str, typer.Option(envvar="GITPRODUCTIVITY_API_URL", help="The GitProductivity server.")
    ] = "http://127.0.0.1:8000",
    api_key: Annotated[
        str | None, typer.Option(envvar="GITPRODUCTIVITY_API_KEY", help="An API key (gpk_…).", show_default=False)
    ] = None,
    secret: Annotated[
        str | None,
        typer.Option(
            envvar="GITPRODUCTIVITY_LISTEN_SECRET",
            help="Sign with this whsec_… secret instead of a new one (keeps your receiver's config across runs).",
            show_default=False,
        ),
    ] = None,
    after: Annotated[
        str | None, typer.Option(help="Replay every event after this id first (default: only new events).")
    ] = None,
    wait: Annotated[float, typer.Option(hidden=True, min=0.1, max=60)] = 25.0,
) -> None:
    """Forward your organisation's events, signed, to a local URL as they happen (no public URL needed)."""
    from gitproductivity import listen as listening
    from gitproductivity import receiver
    from gitproductivity.events.types import EVENT_TYPES, WEBHOOK_TEST

    if not api_key:
        raise CliError("missing API key: pass --api-key or set GITPRODUCTIVITY_API_KEY")
    types = [t.strip() for t in (events or "").split(",") if t.strip()]
    unknown = [t for t in types if t not in (*EVENT_TYPES, WEBHOOK_TEST)]
    if unknown:
        raise CliError(f"unknown event type(s): {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}")
    signing = secret or receiver.generate_secret()
    try:
        receiver.sign(b"", signing, event_id="evt_check")
        listener = listening.Listener(
            api_url=api_url,
            api_key=api_key,
            forward_to=forward_to,
            secret=signing,
            types=types,
            after=after,
            wait=wait,
            out=lambda line: print(line, flush=True),
        )
    except (receiver.WebhookVerificationError, listening.ListenError) as exc:
        raise CliError(str(exc).replace("the secret", "--secret")) from None

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM (a container stopping) ends it like Ctrl-C: with the resume hint

    signal.signal(signal.SIGTERM, interrupt)
    print(f"Forwarding {', '.join(types) or 'all events'} to {forward_to}", flush=True)
    print(f"Signing secret: {signing}", flush=True)
    try:
        listener.run()
    except listening.ListenError as exc:
        raise CliError(str(exc)) from None
    except KeyboardInterrupt:
        resume = f"; resume with --after {listener.cursor}" if listener.cursor else ""
        print(f"Stopped{resume}.", flush=True)


# --- analysis and metrics ---------------------------------------------------------------------------------


@repositories_app.command("analyze")
def repositories_analyze(
    repository_id: str,
    full: Annotated[bool, typer.Option("--full", help="Read the whole history again, not only new commits.")] = False,
    org: OrgOption = None,
    as_json: JsonOption = False,
) -> None:
    """Analyse a repository now, in this process, with a progress bar (emits the same events as a worker)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from gitproductivity.analysis import jobs, run
    from gitproductivity.analysis.schemas import AnalysisRead

    ensure_schema()
    with session_scope() as session:
        org_id = resolve_org(session, org)
        from gitproductivity.repositories import service as repositories

        repositories.get(session, organization_id=org_id, repository_id=repository_id)
    columns = (
        TextColumn("[bold]analysing[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("commits"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, disable=as_json, transient=False) as progress:
        task = progress.add_task("analyse", total=None, rate="")
        started = time.monotonic()

        def on_progress(done: int, total: int) -> None:
            elapsed = max(time.monotonic() - started, 1e-6)
            progress.update(task, completed=done, total=total or None, rate=f"{done / elapsed:,.0f}/s")

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


@app.command("metrics")
def metrics_cmd(
    repository: Annotated[str | None, typer.Option("--repository", help="Only this repository id.")] = None,
    start: Annotated[str | None, typer.Option("--from", help="First UTC day, YYYY-MM-DD.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last UTC day, YYYY-MM-DD.")] = None,
    bots: Annotated[bool, typer.Option("--bots", help="Include bots.")] = False,
    org: OrgOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print per-developer totals (commits, merges, lines, files, active days)."""
    from datetime import date

    from gitproductivity.metrics import service

    def parse_day(value: str | None, option: str) -> date | None:
        if value is None:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise CliError(f"{option} must be a date like 2026-03-19, not {value!r}") from None

    first, last = parse_day(start, "--from"), parse_day(end, "--to")

    def work(session: Session, org_id: str) -> list[dict[str, Any]]:
        rows = service.developers_summary(
            session, organization_id=org_id, repository_id=repository, start=first, end=last, include_bots=bots
        )
        return [
            {"developer_id": d.id, "name": d.name, "email": d.email, **service.public(t.as_dict())} for d, t in rows
        ]

    rows = in_org(org, work)
    if as_json:
        print_json(rows)
        return
    keys = ["commits", "merges", "lines_added", "lines_deleted", "files_changed", "active_days"]
    print_table(
        "Developer metrics",
        ["developer", "email", *[k.replace("_", " ") for k in keys], "last commit"],
        [[r["name"], r["email"], *[r[k] for k in keys], r["last_commit_at"]] for r in rows],
    )


@developers_app.command("alias")
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


@developers_app.command("merge")
def developers_merge(
    developer_id: Annotated[str, typer.Argument(help="The developer to keep")],
    other_id: Annotated[str, typer.Argument(help="The developer folded into it (then removed)")],
    org: OrgOption = None,
) -> None:
    """Merge two developers: emails become aliases, metrics are added together."""
    from gitproductivity.developers import flows

    dev = in_org(org, lambda s, o: flows.merge(s, organization_id=o, developer_id=developer_id, other_id=other_id))
    console.print(f"merged {other_id} into {dev.id} {dev.name} <{dev.email}>")


def main() -> None:
    """Entry point: domain and configuration errors become one line on stderr, never a traceback."""
    try:
        app()
    except CliError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(1)
    except DomainError as exc:
        err.print(f"[red]error:[/red] {exc.message}", highlight=False)
        sys.exit(1)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        err.print(f"[red]error:[/red] invalid configuration: GITPRODUCTIVITY_{where.upper()}: {first['msg']}")
        sys.exit(2)
    except OperationalError as exc:
        err.print(f"[red]error:[/red] cannot use the database ({_safe_db_error(exc)})", highlight=False)
        sys.exit(1)


def _safe_db_error(exc: OperationalError) -> str:
    text = str(exc.orig) if exc.orig is not None else str(exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
