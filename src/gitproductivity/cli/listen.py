"""`gitproductivity listen`: forward the organisation's events, signed, to a local URL (local development)."""

from __future__ import annotations

import signal
from typing import Annotated

import typer

from gitproductivity.cli._common import CliError, finite


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
    wait: Annotated[float, typer.Option(hidden=True, min=0.1, max=60, callback=finite)] = 25.0,
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
