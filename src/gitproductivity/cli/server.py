"""Top-level commands that run or set up the service: `serve`, `worker`, `init`."""

from __future__ import annotations

import json
import socket
from typing import Annotated, Any

import typer

from gitproductivity.cli._common import (
    CliError,
    JsonOption,
    console,
    ensure_schema,
    err,
    safe_db_label,
    session_scope,
    setup_logging,
)
from gitproductivity.core.settings import get_settings


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port to listen on.")] = None,
    fd: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Serve on this inherited, already listening TCP socket instead of binding --host/--port "
            "(socket activation, or a supervisor that holds the address across restarts).",
        ),
    ] = None,
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
    from gitproductivity.core.serving import protocol_class
    from gitproductivity.orgs import service as orgs

    sockets = None if fd is None else [_inherited_socket(fd, given=host is not None or port is not None)]
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
    if sockets is None:
        bind_host, bind_port = host or settings.host, port or settings.port
    else:
        bind_host, bind_port = sockets[0].getsockname()[:2]
    err.print(f"GitProductivity on http://{bind_host}:{bind_port}  (database: {safe_db_label()})")
    config = uvicorn.Config(
        create_app(run_workers=workers),
        host=bind_host,
        port=bind_port,
        log_level=settings.log_level.lower(),
        # Slow clients: deadlines for headers and bodies, and a cap on open connections (core.serving).
        http=protocol_class(
            header_timeout=settings.http_header_timeout,
            body_timeout=settings.http_body_timeout,
            max_connections=settings.http_max_connections,
        ),
    )
    _allow_open_files(settings.http_max_connections)
    _server_class()(config).run(sockets=sockets)


def _inherited_socket(fd: int, *, given: bool) -> socket.socket:
    """The listening TCP socket at file descriptor `fd`, or a clear error (never a traceback)."""
    if given:
        raise CliError("--fd serves on an inherited socket: leave out --host and --port")
    try:
        sock = socket.socket(fileno=fd)
    except OSError as exc:
        raise CliError(f"--fd {fd}: not an open socket ({exc.strerror or exc})") from None
    listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or sock.type != socket.SOCK_STREAM or not listening:
        sock.detach()
        raise CliError(f"--fd {fd}: not a listening TCP socket")
    return sock


def _allow_open_files(connections: int) -> None:
    """Raise the soft limit on open files to fit the connection cap (plus database, git and log files)."""
    import resource

    wanted = connections + 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        if target < wanted:
            err.print(
                f"[yellow]Open-file limit {target} is below GITPRODUCTIVITY_HTTP_MAX_CONNECTIONS + 256; "
                "raise `ulimit -n` or lower the cap.[/yellow]"
            )


def _server_class() -> type[Any]:
    import uvicorn

    from gitproductivity.events import service as events

    class Server(uvicorn.Server):
        """Ends long-polls at shutdown, which otherwise waits for them (up to their `wait`) before exiting."""

        async def shutdown(self, sockets: Any = None) -> None:
            events.stop_waiting()
            await super().shutdown(sockets)

    return Server


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
