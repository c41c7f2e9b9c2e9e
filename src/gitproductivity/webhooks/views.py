"""Settings → Webhooks: thin handlers over `webhooks.service` (and the dispatcher's test send)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from gitproductivity.core.bounds import parse_utc_datetime
from gitproductivity.core.errors import DomainError, ValidationFailed
from gitproductivity.core.http import unit_of_work
from gitproductivity.events.types import EVENT_DESCRIPTIONS, EVENT_TYPES, OPERATIONAL_EVENT_TYPES, WEBHOOK_TEST
from gitproductivity.web.helpers import CurrentViewer, Viewer, field_errors, flash, page_allows, redirect, render
from gitproductivity.web.security import guard
from gitproductivity.webhooks import client_certs, deliveries, endpoints, options, testing
from gitproductivity.webhooks.models import DeliveryStatus
from gitproductivity.webhooks.schemas import (
    DeliveryDetail,
    DeliveryRead,
    WebhookCreate,
    WebhookRead,
    WebhookWithSecret,
    webhook_read,
)

router = APIRouter(prefix="/settings", include_in_schema=False, dependencies=[Depends(guard), page_allows("webhooks")])

RECENT = 50  # the success rate is over this many most recent finished deliveries


def _event_choices() -> list[tuple[str, str]]:
    return [(name, EVENT_DESCRIPTIONS[name]) for name in EVENT_TYPES]


@router.get("/webhooks")
def list_webhooks(request: Request, viewer: CurrentViewer) -> Response:
    with unit_of_work() as session:
        hooks = endpoints.list_(session, organization_id=viewer.organization_id, limit=500)[:500]
        rates = deliveries.success_rates(
            session, organization_id=viewer.organization_id, webhook_ids=[h.id for h in hooks], recent=RECENT
        )
        rows = [(webhook_read(hook), rates[hook.id]) for hook in hooks]
    return render(request, "webhooks/list.html", viewer, webhooks=rows)


def _form_page(
    request: Request, viewer: Viewer, form: dict[str, Any], errors: dict[str, str], status_code: int = 200
) -> Response:
    return render(
        request,
        "webhooks/new.html",
        viewer,
        status_code=status_code,
        form=form,
        errors=errors,
        event_choices=_event_choices(),
    )


@router.get("/webhooks/new")
def new_webhook(request: Request, viewer: CurrentViewer) -> Response:
    blank = {"url": "", "description": "", "events": [], "all_events": False, "client_certificate": ""}
    return _form_page(request, viewer, blank, {})


def _selected(events: list[str], all_events: str) -> list[str]:
    """ "All events" is every product type; operational types ticked beside it are kept (they are named to be
    received)."""
    return ["*", *(e for e in events if e in OPERATIONAL_EVENT_TYPES)] if all_events else events


@router.post("/webhooks")
def create_webhook(
    request: Request,
    viewer: CurrentViewer,
    url: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    events: Annotated[list[str] | None, Form()] = None,
    all_events: Annotated[str, Form()] = "",
    rate_limit_per_second: Annotated[str, Form()] = "",
    client_certificate: Annotated[str, Form()] = "",
    client_private_key: Annotated[str, Form()] = "",
) -> Response:
    chosen = _selected(events or [], all_events)
    form = {  # the private key is never sent back
        "url": url,
        "description": description,
        "events": chosen,
        "all_events": bool(all_events),
        "rate_limit_per_second": rate_limit_per_second,
        "client_certificate": client_certificate,
    }
    pair = {"certificate": client_certificate, "private_key": client_private_key}
    errors: dict[str, str] = {}
    status = 422
    rate = None
    try:
        rate = options.rate_from_text(rate_limit_per_second)
    except DomainError as exc:
        errors.update(field_errors(exc))
    try:  # every field's errors at once: the schema's and the service's checks, not only the first
        WebhookCreate(
            url=url.strip(), events=chosen or ["*"], description=description.strip(), rate_limit_per_second=rate
        )
    except ValidationError as exc:
        errors.update(field_errors(exc))
    try:
        endpoints.check_fields(url=url, events=chosen or ["*"], description=description)
    except DomainError as exc:
        errors = {**field_errors(exc), **errors}
    if not chosen:
        errors["events"] = "Events: choose at least one event"
    if not errors:
        try:
            body = WebhookCreate(
                url=url.strip(), events=chosen, description=description.strip(), rate_limit_per_second=rate
            )
            with unit_of_work() as session:
                hook_id = endpoints.create(
                    session,
                    organization_id=viewer.organization_id,
                    url=body.url,
                    events=body.events,
                    description=body.description,
                    rate_limit_per_second=body.rate_limit_per_second,
                    client_certificate=pair if any(v.strip() for v in pair.values()) else None,
                ).id
        except (DomainError, ValidationError) as exc:
            errors = field_errors(exc)
            status = exc.status_code if isinstance(exc, DomainError) else 422
    if errors:
        return _form_page(request, viewer, form, errors, status_code=status)
    # Saved (committed); now the test webhook the docs promise, sent at once and shown on the next page.
    testing.send_test(organization_id=viewer.organization_id, webhook_id=hook_id)
    return redirect(f"/settings/webhooks/{hook_id}?saved=1")


def _parse_status(status: str | None) -> str | None:
    return status if status in tuple(DeliveryStatus) else None


def _search(status_code: str, event_type: str, since: str, until: str) -> tuple[deliveries.Search, dict[str, str]]:
    """The delivery search from the page's query; a value that does not parse is left out (the form shows it)."""
    kept: dict[str, str] = {}
    code = status_code.strip().lower()
    if deliveries.STATUS_CODE.fullmatch(code):
        kept["status_code"] = code
    if event_type in EVENT_TYPES or event_type == WEBHOOK_TEST:
        kept["event_type"] = event_type
    moments: dict[str, Any] = {}
    for name, text in (("since", since), ("until", until)):
        try:
            moments[name] = parse_utc_datetime(text[:100], field=name) if text.strip() else None
        except ValidationFailed:
            moments[name] = None
        if moments[name] is not None:
            kept[name] = text.strip()[:100]
    search = deliveries.Search(status_code=kept.get("status_code"), event_type=kept.get("event_type"), **moments)
    return search, kept


def _deliveries(
    viewer: Viewer, webhook_id: str, status: str | None, after: str | None, search: deliveries.Search | None = None
) -> tuple[list[Any], bool]:
    with unit_of_work() as session:
        rows = deliveries.list_(
            session,
            organization_id=viewer.organization_id,
            webhook_id=webhook_id,
            status=status,
            search=search,
            after=after,
            limit=RECENT,
        )
        return [DeliveryRead.model_validate(d) for d in rows[:RECENT]], len(rows) > RECENT


def _query(status: str | None, kept: dict[str, str]) -> str:
    """The current search as a query string (`status=failed&status_code=5xx&`), for the paging links."""
    return urlencode({**({"status": status} if status else {}), **kept}) + "&" if status or kept else ""


@router.get("/webhooks/{webhook_id}")
def show_webhook(
    request: Request,
    webhook_id: str,
    viewer: CurrentViewer,
    status: str | None = None,
    status_code: str = "",
    event_type: str = "",
    since: str = "",
    until: str = "",
    after: str | None = None,
    saved: int = 0,
    rotated: int = 0,
) -> Response:
    with unit_of_work() as session:
        hook = endpoints.get(session, organization_id=viewer.organization_id, webhook_id=webhook_id)
        read: WebhookWithSecret = webhook_read(hook, WebhookWithSecret)
    search, kept = _search(status_code, event_type, since, until)
    deliveries, more = _deliveries(viewer, webhook_id, _parse_status(status), after, search)
    return render(
        request,
        "webhooks/show.html",
        viewer,
        hook=read,
        saved=bool(saved),
        rotated=bool(rotated),
        deliveries=deliveries,
        more=more,
        status=_parse_status(status),
        statuses=tuple(DeliveryStatus),
        search=kept,
        query=_query(_parse_status(status), kept),
        event_types=[*EVENT_TYPES, WEBHOOK_TEST],
        event_choices=_event_choices(),
        recover_default=(datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        cert_expiry=client_certs.expiry(read.client_certificate.not_after) if read.client_certificate else None,
    )


@router.get("/webhooks/{webhook_id}/deliveries")
def deliveries_partial(
    request: Request,
    webhook_id: str,
    viewer: CurrentViewer,
    status: str | None = None,
    status_code: str = "",
    event_type: str = "",
    since: str = "",
    until: str = "",
    after: str | None = None,
) -> Response:
    """The deliveries table alone: htmx refreshes it while deliveries are pending."""
    search, kept = _search(status_code, event_type, since, until)
    deliveries, more = _deliveries(viewer, webhook_id, _parse_status(status), after, search)
    return render(
        request,
        "webhooks/_deliveries.html",
        viewer,
        hook={"id": webhook_id},
        deliveries=deliveries,
        more=more,
        status=_parse_status(status),
        query=_query(_parse_status(status), kept),
    )


def _test_message(hook: WebhookRead) -> tuple[str, str]:
    test = hook.last_test
    if test is None:
        return "error", "The test webhook was not sent."
    if test.ok:
        return (
            "success",
            f"Test webhook delivered: your endpoint answered {test.status_code} in {test.latency_ms:.0f} ms.",
        )
    if test.status_code is not None:
        hint = f" {test.hint}" if test.hint else ""
        return "error", f"Test webhook failed: your endpoint answered {test.status_code}, not a 2xx.{hint}"
    return "error", f"Test webhook failed: {test.error or 'no answer'}."


@router.post("/webhooks/{webhook_id}/test")
def send_test(request: Request, webhook_id: str, viewer: CurrentViewer) -> Response:
    hook = testing.send_test(organization_id=viewer.organization_id, webhook_id=webhook_id)
    kind, message = _test_message(webhook_read(hook))
    flash(request, message, kind)
    return redirect(f"/settings/webhooks/{webhook_id}")


@router.post("/webhooks/{webhook_id}/rotate")
def rotate_secret(request: Request, webhook_id: str, viewer: CurrentViewer) -> Response:
    with unit_of_work() as session:
        hook = endpoints.rotate_secret(session, organization_id=viewer.organization_id, webhook_id=webhook_id)
        until = hook.previous_secret_expires_at
    when = until.strftime("%Y-%m-%d %H:%M UTC") if until else "now"
    flash(request, f"New signing secret created. The old one keeps signing webhook-signature until {when}.")
    return redirect(f"/settings/webhooks/{webhook_id}?rotated=1")


@router.post("/webhooks/{webhook_id}/events")
def edit_events(
    request: Request,
    webhook_id: str,
    viewer: CurrentViewer,
    events: Annotated[list[str] | None, Form()] = None,
    all_events: Annotated[str, Form()] = "",
) -> Response:
    chosen = _selected(events or [], all_events)
    if not chosen:
        flash(request, "Choose at least one event; nothing was changed.", "error")
        return redirect(f"/settings/webhooks/{webhook_id}")
    with unit_of_work() as session:
        endpoints.update_(session, organization_id=viewer.organization_id, webhook_id=webhook_id, events=chosen)
    flash(request, "Events saved.")
    return redirect(f"/settings/webhooks/{webhook_id}")


@router.post("/webhooks/{webhook_id}/enable")
def enable(request: Request, webhook_id: str, viewer: CurrentViewer) -> Response:
    with unit_of_work() as session:
        endpoints.update_(session, organization_id=viewer.organization_id, webhook_id=webhook_id, enabled=True)
    flash(request, "Enabled. Deliveries held while it was disabled are being sent.")
    return redirect(f"/settings/webhooks/{webhook_id}")


@router.post("/webhooks/{webhook_id}/disable")
def disable(request: Request, webhook_id: str, viewer: CurrentViewer) -> Response:
    with unit_of_work() as session:
        endpoints.update_(session, organization_id=viewer.organization_id, webhook_id=webhook_id, enabled=False)
    flash(request, "Disabled. Nothing new is sent to it; deliveries already queued wait until you enable it again.")
    return redirect(f"/settings/webhooks/{webhook_id}")


@router.post("/webhooks/{webhook_id}/delete")
def delete(request: Request, webhook_id: str, viewer: CurrentViewer) -> Response:
    with unit_of_work() as session:
        hook = endpoints.delete_(session, organization_id=viewer.organization_id, webhook_id=webhook_id)
        flash(request, f"Deleted the webhook to {endpoints.display_url(hook.url)}.")
    return redirect("/settings/webhooks")


@router.post("/webhooks/{webhook_id}/recover")
def recover(
    request: Request,
    webhook_id: str,
    viewer: CurrentViewer,
    since: Annotated[str, Form()] = "",
    until: Annotated[str, Form()] = "",
) -> Response:
    try:
        start = parse_utc_datetime(since[:100])  # the API's rules: no offset means UTC; years 1 to 9999
        end = parse_utc_datetime(until[:100], field="until") if until.strip() else None
        with unit_of_work() as session:
            copies = deliveries.recover(
                session, organization_id=viewer.organization_id, webhook_id=webhook_id, since=start, until=end
            )
            count = len(copies)
    except ValidationFailed:
        flash(request, "Enter the date and time (UTC) to recover from, and an end after it (or none).", "error")
        return redirect(f"/settings/webhooks/{webhook_id}")
    window = f"since {start:%Y-%m-%d %H:%M}" + (f" until {end:%Y-%m-%d %H:%M}" if end else "")
    flash(request, f"Re-sending {count} failed deliver{'y' if count == 1 else 'ies'} {window} UTC.")
    return redirect(f"/settings/webhooks/{webhook_id}")


@router.get("/deliveries/{delivery_id}")
def show_delivery(request: Request, delivery_id: str, viewer: CurrentViewer) -> Response:
    with unit_of_work() as session:
        delivery = deliveries.get(session, organization_id=viewer.organization_id, delivery_id=delivery_id)
        detail = DeliveryDetail.model_validate(delivery)
        hook = webhook_read(
            endpoints.get(session, organization_id=viewer.organization_id, webhook_id=detail.webhook_id)
        )
        family = [
            DeliveryRead.model_validate(d)
            for d in deliveries.same_event(session, organization_id=viewer.organization_id, delivery=delivery)
        ]
    original = family[0] if family and family[0].id != detail.id else None
    again = [d for d in family[1:] if d.id != detail.id] if original is None else []
    return render(
        request,
        "webhooks/delivery.html",
        viewer,
        delivery=detail,
        hook=hook,
        original=original,
        redeliveries=again,
        bodies={a.id: pretty_json(a.request_body) for a in detail.attempt_log}
        | {f"r-{a.id}": pretty_json(a.response_body) for a in detail.attempt_log},
    )


def pretty_json(text: str | None) -> str | None:
    """A JSON body indented for reading; any other text as it is."""
    if not text or text.lstrip()[:1] not in ("{", "["):
        return text
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


@router.post("/deliveries/{delivery_id}/redeliver")
def redeliver(request: Request, delivery_id: str, viewer: CurrentViewer) -> Response:
    with unit_of_work() as session:
        copy = deliveries.redeliver(session, organization_id=viewer.organization_id, delivery_id=delivery_id)
        copy_id = copy.id
    flash(request, "Queued a new delivery of the same event (same webhook-id, so receivers can dedupe).")
    return redirect(f"/settings/deliveries/{copy_id}")
