"""The `gitproductivity` command. It calls the same services as the API, on the configured database.

One module per command group (`developers.py` is `gitproductivity developers ...`), the top-level commands in
`server.py` (serve, worker, init), `listen.py` and `metrics.py`, and what they share in `_common.py`. The order of
registration below is the order `--help` lists them in.
"""

from __future__ import annotations

import typer

from gitproductivity.cli import (
    _common,
    db,
    developers,
    events,
    listen,
    members,
    metrics,
    notifications,
    ownership,
    repositories,
    server,
    teams,
    users,
    webhooks,
)

app = typer.Typer(
    name="gitproductivity",
    help="Per-developer metrics from git history, delivered through signed, retried webhooks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _start() -> None:
    """Per-developer metrics from git history, delivered through signed, retried webhooks."""
    from gitproductivity import startup

    startup.install()  # every command that changes state emits events; webhooks must hear them


app.command("serve")(server.serve)
app.command("worker")(server.worker_cmd)
app.command("init")(server.init)
app.command("listen")(listen.listen)
app.command("metrics")(metrics.metrics_cmd)
app.command("hours")(metrics.hours_cmd)
app.command("ownership")(ownership.ownership_cmd)

app.add_typer(db.app, name="db")
app.add_typer(developers.app, name="developers")
app.add_typer(teams.app, name="teams")
app.add_typer(repositories.app, name="repositories")
app.add_typer(events.app, name="events")
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(notifications.app, name="notifications")
app.add_typer(members.app, name="members")
app.add_typer(users.app, name="users")


def main() -> None:
    """Entry point: domain and configuration errors become one line on stderr, never a traceback."""
    _common.run(app)
