"""`gitproductivity users ...`: what an operator with access to the server does for the people who sign in to the
web UI: reset a forgotten password, end every session of someone whose laptop or cookie went astray."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from gitproductivity.cli._common import CliError, console, ensure_schema, session_scope

app = typer.Typer(help="People who sign in to the web UI.", no_args_is_help=True)

EmailArgument = Annotated[str, typer.Argument(help="The e-mail address the user signs in with.")]


def _password_from_stdin() -> str:
    """The first line of standard input, without its line ending (spaces are part of a password)."""
    line = sys.stdin.readline()
    password = line.removesuffix("\n").removesuffix("\r")
    if not password:
        raise CliError("no password on standard input (--password-stdin reads its first line)")
    return password


@app.command("reset-password")
def reset_password(
    email: EmailArgument,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the new password from the first line of standard input."),
    ] = False,
) -> None:
    """Set a new password for a user who forgot theirs, and sign them out everywhere."""
    from gitproductivity.orgs import service

    if password_stdin:
        password = _password_from_stdin()
    else:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    ensure_schema()
    with session_scope() as session:
        ended = service.reset_password(session, email=email, new_password=password)
    console.print(f"password reset; {ended} session{'s' if ended != 1 else ''} ended", highlight=False)


@app.command("sign-out-everywhere")
def sign_out_everywhere(email: EmailArgument) -> None:
    """End every web session of a user at once (every copy of their cookies stops working)."""
    from gitproductivity.orgs import service

    ensure_schema()
    with session_scope() as session:
        ended = service.sign_out_everywhere(session, email=email)
    console.print(f"{ended} session{'s' if ended != 1 else ''} ended", highlight=False)
