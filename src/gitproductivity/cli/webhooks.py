"""`gitproductivity webhooks ...`: endpoints, their test deliveries, secrets and delivery log."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from gitproductivity.cli._common import CliError, JsonOption, OrgOption, console, in_org, print_json, print_table

app = typer.Typer(help="Webhook endpoints and their deliveries.", no_args_is_help=True)


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
        if test.get("hint"):
            console.print(f"  hint: {test['hint']}", markup=False, highlight=False)


@app.command("add")
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
    hook = _hook_json(testing.send_test(organization_id=created.organization_id, webhook_id=created.id), secret=True)
    if as_json:
        print_json(hook)
        return
    console.print(f"added {hook['id']} {hook['url']} ({', '.join(hook['events'])})\n  secret  {hook['secret']}")
    _print_test(hook["last_test"])


@app.command("list")
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


@app.command("show")
def webhooks_show(webhook_id: str, org: OrgOption = None) -> None:
    """Show one endpoint as JSON (with its secret)."""
    from gitproductivity.webhooks import endpoints

    print_json(
        in_org(org, lambda s, o: _hook_json(endpoints.get(s, organization_id=o, webhook_id=webhook_id), secret=True))
    )


@app.command("test")
def webhooks_test(
    webhook_id: str,
    event: Annotated[str, typer.Option(help="Send a sample of this event type (data.test = true)")] = "webhook.test",
    org: OrgOption = None,
) -> None:
    """Send a test delivery now and print the outcome (exit 1 when it failed)."""
    from gitproductivity.webhooks import endpoints, testing

    org_id = in_org(org, lambda s, o: endpoints.get(s, organization_id=o, webhook_id=webhook_id).organization_id)
    hook = _hook_json(testing.send_test(organization_id=org_id, webhook_id=webhook_id, event_type=event))
    _print_test(hook["last_test"])
    if not hook["last_test"]["ok"]:
        raise typer.Exit(1)


@app.command("rotate-secret")
def webhooks_rotate(
    webhook_id: str,
    overlap: Annotated[
        float | None, typer.Option(help="Seconds the old secret keeps signing (default 24 h, at most 30 days)")
    ] = None,
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


@app.command("disable")
def webhooks_disable(webhook_id: str, org: OrgOption = None) -> None:
    """Stop deliveries (they are held, not dropped)."""
    _set_enabled(webhook_id, False, org)


@app.command("enable")
def webhooks_enable(webhook_id: str, org: OrgOption = None) -> None:
    """Resume deliveries, held ones included."""
    _set_enabled(webhook_id, True, org)


@app.command("remove")
def webhooks_remove(webhook_id: str, org: OrgOption = None) -> None:
    """Remove an endpoint with its deliveries and their log."""
    from gitproductivity.webhooks import endpoints

    hook = in_org(org, lambda s, o: endpoints.delete_(s, organization_id=o, webhook_id=webhook_id))
    console.print(f"removed {hook.id}")


@app.command("deliveries")
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


@app.command("redeliver")
def webhooks_redeliver(delivery_id: str, org: OrgOption = None) -> None:
    """Queue the same event again for the same endpoint (a worker or the server sends it)."""
    from gitproductivity.webhooks import deliveries

    copy = in_org(org, lambda s, o: deliveries.redeliver(s, organization_id=o, delivery_id=delivery_id))
    console.print(f"queued {copy.id} (event {copy.event_id})")
