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


FilterOption = Annotated[
    str | None,
    typer.Option(
        "--filter",
        help='Only events matching this JSON filter, e.g. \'{"data": {"repository_id": {"$in": ["repo_…"]}}}\' '
        "(docs/webhooks.md, Filters); '' or 'null' removes it",
    ),
]
HeaderOption = Annotated[
    list[str] | None,
    typer.Option("--header", help="An extra request header, 'Name: value' (repeat the option for more)"),
]
AuthOption = Annotated[
    str | None,
    typer.Option(
        "--auth",
        help="basic, bearer or none: the token or password is asked for (hidden; or read from stdin), "
        "stored encrypted, never shown again",
    ),
]
OrderingOption = Annotated[
    str | None,
    typer.Option(
        "--ordering",
        help="per_repository or per_developer: one event of a repository / developer at a time, in feed order; none",
    ),
]
RateOption = Annotated[
    str | None,
    typer.Option(
        "--rate-limit", help="At most this many POSTs a second to the endpoint, across workers ('none' removes it)"
    ),
]
UserOption = Annotated[str | None, typer.Option("--auth-username", help="The user name of basic credentials")]
CertOption = Annotated[
    str | None,
    typer.Option("--client-cert", help="PEM file: a client certificate (mTLS) to present, then intermediates; 'none'"),
]
KeyOption = Annotated[str | None, typer.Option("--client-key", help="PEM file: its private key (no passphrase)")]


def _filter_option(text: str | None) -> Any:
    import json

    if text is None or text.strip() in ("", "null"):
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise CliError(f"--filter is not valid JSON: {exc}") from None


def _header_options(values: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition(":")
        if not sep:
            raise CliError(f"--header {item!r}: write it as 'Name: value'")
        headers[name.strip()] = value.strip()
    return headers


def _auth_option(kind: str | None, username: str | None) -> Any:
    if kind is None or kind == "none":
        return None
    if kind == "bearer":
        return {"type": "bearer", "token": typer.prompt("bearer token", hide_input=True)}
    if kind == "basic":
        if not username:
            raise CliError("--auth basic needs --auth-username")
        return {"type": "basic", "username": username, "password": typer.prompt("password", hide_input=True)}
    raise CliError("--auth must be basic, bearer or none")


def _cert_option(cert: str | None, key: str | None) -> Any:
    """The `client_certificate` of --client-cert and --client-key (read from their files), or None for 'none'."""
    from pathlib import Path

    if cert is not None and cert.strip().lower() == "none":
        return None
    if not cert or not key:
        raise CliError("--client-cert and --client-key go together (or --client-cert none to remove it)")
    try:
        return {"certificate": Path(cert).read_text(), "private_key": Path(key).read_text()}
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read the client certificate or key: {exc}") from None


def _rate_option(value: str | None) -> float | None:
    from gitproductivity.webhooks import options

    if value is None or value.strip().lower() == "none":
        return None
    return options.rate_from_text(value)


@app.command("add")
def webhooks_add(
    url: Annotated[str, typer.Argument(help="Where to POST events (http or https)")],
    events: Annotated[str, typer.Option("--events", help="Comma-separated event types, or * for all")] = "*",
    description: Annotated[str, typer.Option(help="A note for people")] = "",
    filter_: FilterOption = None,
    header: HeaderOption = None,
    auth: AuthOption = None,
    auth_username: UserOption = None,
    rate_limit: RateOption = None,
    ordering: OrderingOption = None,
    client_cert: CertOption = None,
    client_key: KeyOption = None,
    org: OrgOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add an endpoint, then send it a test webhook at once; prints the secret."""
    from gitproductivity.webhooks import endpoints, testing

    types = [t.strip() for t in events.split(",") if t.strip()]
    spec, headers, credentials = (
        _filter_option(filter_),
        _header_options(header or []),
        _auth_option(auth, auth_username),
    )
    pair = None if client_cert is None and client_key is None else _cert_option(client_cert, client_key)
    created = in_org(
        org,
        lambda s, o: endpoints.create(
            s,
            organization_id=o,
            url=url,
            events=types,
            description=description,
            event_filter=spec,
            headers=headers,
            auth=credentials,
            rate_limit_per_second=_rate_option(rate_limit),
            ordering=ordering,
            client_certificate=pair,
        ),
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


@app.command("update")
def webhooks_update(
    webhook_id: str,
    url: Annotated[str | None, typer.Option(help="A new URL")] = None,
    events: Annotated[str | None, typer.Option("--events", help="Comma-separated event types, or *")] = None,
    description: Annotated[str | None, typer.Option(help="A note for people")] = None,
    filter_: FilterOption = None,
    header: HeaderOption = None,
    clear_headers: Annotated[bool, typer.Option("--clear-headers", help="Remove every extra header")] = False,
    auth: AuthOption = None,
    auth_username: UserOption = None,
    rate_limit: RateOption = None,
    ordering: OrderingOption = None,
    client_cert: CertOption = None,
    client_key: KeyOption = None,
    org: OrgOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change an endpoint; options left out are unchanged (--header replaces all the extra headers)."""
    from gitproductivity.webhooks import endpoints

    changes: dict[str, Any] = {}
    if filter_ is not None:
        changes["event_filter"] = _filter_option(filter_)
    if header or clear_headers:
        changes["headers"] = None if clear_headers else _header_options(header or [])
    if auth is not None:
        changes["auth"] = _auth_option(auth, auth_username)
    if rate_limit is not None:
        changes["rate_limit_per_second"] = _rate_option(rate_limit)
    if ordering is not None:
        changes["ordering"] = ordering
    if client_cert is not None or client_key is not None:
        changes["client_certificate"] = _cert_option(client_cert, client_key)
    types = None if events is None else [t.strip() for t in events.split(",") if t.strip()]
    hook = in_org(
        org,
        lambda s, o: _hook_json(
            endpoints.update_(
                s, organization_id=o, webhook_id=webhook_id, url=url, events=types, description=description, **changes
            )
        ),
    )
    if as_json:
        print_json(hook)
        return
    console.print(f"updated {hook['id']} {hook['url']} ({', '.join(hook['events'])})")


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
    status_code: Annotated[str | None, typer.Option(help="The last HTTP status: 503, or a class: 5xx")] = None,
    event_type: Annotated[str | None, typer.Option(help="Only this event type")] = None,
    since: Annotated[str | None, typer.Option(help="Created at or after (ISO 8601; no offset: UTC)")] = None,
    until: Annotated[str | None, typer.Option(help="Created before (ISO 8601; no offset: UTC)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    org: OrgOption = None,
    as_json: JsonOption = False,
) -> None:
    """The newest deliveries of an endpoint, searched by status, HTTP status, event type and time."""

    from gitproductivity.webhooks import deliveries
    from gitproductivity.webhooks.models import DeliveryStatus
    from gitproductivity.webhooks.schemas import DeliveryRead

    if status is not None and status not in tuple(DeliveryStatus):
        raise CliError(f"--status must be one of {', '.join(tuple(DeliveryStatus))}")
    if status_code is not None and not deliveries.STATUS_CODE.fullmatch(status_code):
        raise CliError("--status-code must be an HTTP status (503) or a class (5xx)")
    search = deliveries.Search(
        status_code=status_code, event_type=event_type, since=_moment(since, "--since"), until=_moment(until, "--until")
    )
    rows = in_org(
        org,
        lambda s, o: [
            DeliveryRead.model_validate(d).model_dump(mode="json")
            for d in deliveries.list_(
                s, organization_id=o, webhook_id=webhook_id, status=status, search=search, limit=limit
            )[:limit]
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


def _moment(text: str | None, option: str) -> Any:
    from gitproductivity.core.bounds import parse_utc_datetime

    return None if text is None else parse_utc_datetime(text, field=option)


@app.command("recover")
def webhooks_recover(
    webhook_id: str,
    since: Annotated[str, typer.Option(help="Re-send what failed since this time (ISO 8601; no offset: UTC)")],
    until: Annotated[str | None, typer.Option(help="... and before this time (default: now)")] = None,
    org: OrgOption = None,
) -> None:
    """Re-send every event whose delivery to this endpoint failed in a time range (not already re-sent)."""
    from gitproductivity.webhooks import deliveries

    start, end = _moment(since, "--since"), _moment(until, "--until")
    copies = in_org(
        org,
        lambda s, o: len(deliveries.recover(s, organization_id=o, webhook_id=webhook_id, since=start, until=end)),
    )
    console.print(f"queued {copies} deliveries again")


@app.command("redeliver")
def webhooks_redeliver(delivery_id: str, org: OrgOption = None) -> None:
    """Queue the same event again for the same endpoint (a worker or the server sends it)."""
    from gitproductivity.webhooks import deliveries

    copy = in_org(org, lambda s, o: deliveries.redeliver(s, organization_id=o, delivery_id=delivery_id))
    console.print(f"queued {copy.id} (event {copy.event_id})")
