"""Webhook endpoints: create, read, update, delete, and rotate their signing secrets.

CRUD only: what happens to events (fan-out, the delivery queue) lives in `webhooks.queue`; endpoint health and
auto-disable in `webhooks.health`; the delivery log in `webhooks.deliveries`; the test webhook in
`webhooks.testing`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gitproductivity.core import channels
from gitproductivity.core.bounds import MAX_SECRET_OVERLAP_SECONDS, check_seconds
from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import get_owned
from gitproductivity.core.errors import ValidationFailed
from gitproductivity.core.ids import new_id
from gitproductivity.core.redaction import redact_url
from gitproductivity.core.settings import get_settings
from gitproductivity.events.types import EVENT_TYPES, OPERATIONAL_EVENT_TYPES
from gitproductivity.webhooks import client_certs, credentials, operational, options, ordering, signing
from gitproductivity.webhooks.guard import DestinationRefused, Guard
from gitproductivity.webhooks.models import Delivery, DeliveryAttempt, Webhook
from gitproductivity.webhooks.schemas import MAX_RATE_LIMIT

ALL_EVENTS = "*"

MAX_URL_LENGTH = 2000


class _Unchanged:
    """An option an update leaves alone (absent from the request), as opposed to `None` (clear it)."""


UNCHANGED: Any = _Unchanged()


def display_url(url: str) -> str:
    """The URL with any credentials replaced by `***` (responses, pages, notifications and logs)."""
    return redact_url(url)


def _no_control_characters(value: str, field: str) -> str:
    """NUL and other control characters are never meaningful here, and PostgreSQL text cannot hold NUL."""
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValidationFailed(f"{field}: must not contain control characters", details=[{"field": field}])
    return value


def _check_url(url: str) -> str:
    url = _no_control_characters(url.strip(), "url")
    if len(url) > MAX_URL_LENGTH:
        raise ValidationFailed(f"url: longer than {MAX_URL_LENGTH} characters", details=[{"field": "url"}])
    try:
        port = urlsplit(url).port  # raises on a malformed port
        del port
        Guard.from_settings(get_settings()).check_url(url)
    except (ValueError, DestinationRefused) as exc:
        raise ValidationFailed(f"url: {exc}", details=[{"field": "url", "message": str(exc)}]) from None
    return url


def _check_events(events: Sequence[str]) -> list[str]:
    chosen = list(dict.fromkeys(e.strip() for e in events if e.strip()))
    if not chosen:
        raise ValidationFailed('events: choose at least one event type, or "*" for all', details=[{"field": "events"}])
    unknown = [e for e in chosen if e != ALL_EVENTS and e not in EVENT_TYPES]
    if unknown:
        raise ValidationFailed(
            f"events: unknown event type(s): {', '.join(unknown)}",
            details=[{"field": "events", "message": f'must be "*" or among {", ".join(EVENT_TYPES)}'}],
        )
    if ALL_EVENTS in chosen:  # "*" is every product type; operational types are named to be received
        return [ALL_EVENTS, *(e for e in chosen if e in OPERATIONAL_EVENT_TYPES)]
    return chosen


def subscribed(types: Sequence[str], event_type: str) -> bool:
    """Whether an endpoint subscribed to `types` receives `event_type`: `*` covers every product type, present and
    future; an operational type (`webhook.*`) only when named (as Svix keeps operational webhooks apart)."""
    return event_type in types or (ALL_EVENTS in types and event_type not in OPERATIONAL_EVENT_TYPES)


def check_fields(*, url: str, events: Sequence[str], description: str) -> tuple[str, list[str], str]:
    """The new endpoint's URL, events and description, checked together: one ValidationFailed naming every
    field that is wrong (not only the first), each detail with its message."""
    checks: dict[str, Callable[[], Any]] = {
        "url": lambda: _check_url(url),
        "events": lambda: _check_events(events),
        "description": lambda: _no_control_characters(description.strip(), "description"),
    }
    values: dict[str, Any] = {}
    problems: list[dict[str, str]] = []
    messages: list[str] = []
    for field, check in checks.items():
        try:
            values[field] = check()
        except ValidationFailed as exc:
            message = next((str(d["message"]) for d in exc.details or [] if d.get("message")), None)
            problems.append({"field": field, "message": message or exc.message.removeprefix(f"{field}: ")})
            messages.append(exc.message)
    if problems:
        raise ValidationFailed("; ".join(messages), details=problems)
    return values["url"], values["events"], values["description"]


def get(session: Session, *, organization_id: str, webhook_id: str) -> Webhook:
    return get_owned(session, Webhook, organization_id=organization_id, id=webhook_id, what="webhook")


def list_(session: Session, *, organization_id: str, after: str | None = None, limit: int = 50) -> list[Webhook]:
    stmt = select(Webhook).where(Webhook.organization_id == organization_id)
    if after:
        stmt = stmt.where(Webhook.id > after)
    return list(session.scalars(stmt.order_by(Webhook.id).limit(limit + 1)))


def _check_rate(rate: Any) -> float | None:
    if rate is None:
        return None
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= MAX_RATE_LIMIT:
        message = f"a number of POSTs per second, more than 0 and at most {MAX_RATE_LIMIT} (null: no limit)"
        raise ValidationFailed(
            f"rate_limit_per_second: {message}", details=[{"field": "rate_limit_per_second", "message": message}]
        )
    return float(rate)


def _set_client_certificate(hook: Webhook, value: Any) -> None:
    """Checked, then stored encrypted (webhooks.client_certs); `None` removes it."""
    if value is UNCHANGED:
        return
    if value is None:
        hook.client_cert_secret = hook.client_cert_info = None
    else:
        hook.client_cert_secret, hook.client_cert_info = client_certs.check(value)


def _set_routing(
    hook: Webhook,
    *,
    event_filter: Any,
    headers: Any,
    auth: Any,
    rate: Any = UNCHANGED,
    order: Any = UNCHANGED,
    client_certificate: Any = UNCHANGED,
) -> None:
    """Filter, extra headers, credentials, client certificate, rate limit and ordering: each validated (all errors
    of one at once), `None` clears it. A new ordering applies to deliveries made from then on (fan-out stores the
    key)."""
    _set_client_certificate(hook, client_certificate)
    if order is not UNCHANGED:
        hook.ordering = ordering.check(order)
    if rate is not UNCHANGED:
        hook.rate_limit_per_second = _check_rate(rate)
    if event_filter is not UNCHANGED:
        hook.event_filter = options.check_filter(event_filter)
    if headers is not UNCHANGED:
        hook.headers = options.check_headers(headers)
    if auth is not UNCHANGED:
        if auth is None:
            hook.auth_type = hook.auth_secret = None
        else:
            kind, fields = credentials.check_auth(auth)
            hook.auth_secret = credentials.encrypt(fields)
            hook.auth_type = kind


def create(
    session: Session,
    *,
    organization_id: str,
    url: str,
    events: Sequence[str],
    description: str = "",
    event_filter: Any = None,
    headers: Any = None,
    auth: Any = None,
    rate_limit_per_second: float | None = None,
    ordering: str | None = None,
    client_certificate: Any = None,
) -> Webhook:
    now = utcnow()
    url, chosen, description = check_fields(url=url, events=events, description=description)
    hook = Webhook(
        id=new_id("wh"),
        organization_id=organization_id,
        url=url,
        description=description,
        events=chosen,
        secret=signing.generate_secret(),
        enabled=True,
        created_at=now,
        updated_at=now,
    )
    _set_routing(
        hook,
        event_filter=event_filter,
        headers=headers,
        auth=auth,
        rate=rate_limit_per_second,
        order=ordering,
        client_certificate=client_certificate,
    )
    session.add(hook)
    session.flush()
    session.info.pop("webhooks_by_org", None)
    return hook


def update_(
    session: Session,
    *,
    organization_id: str,
    webhook_id: str,
    url: str | None = None,
    events: Sequence[str] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
    event_filter: Any = UNCHANGED,
    headers: Any = UNCHANGED,
    auth: Any = UNCHANGED,
    rate_limit_per_second: Any = UNCHANGED,
    ordering: Any = UNCHANGED,
    client_certificate: Any = UNCHANGED,
) -> Webhook:
    """Absent options (`UNCHANGED`) are kept; `None` clears the filter, the headers, the credentials, the client
    certificate or the rate limit (`ordering`: None is "none")."""
    hook = get(session, organization_id=organization_id, webhook_id=webhook_id)
    _set_routing(
        hook,
        event_filter=event_filter,
        headers=headers,
        auth=auth,
        rate=rate_limit_per_second,
        order=ordering,
        client_certificate=client_certificate,
    )
    # The masked URL a client read back (`https://***@host/…`) means "unchanged", not "credentials are ***".
    if url is not None and url.strip() != redact_url(hook.url):
        hook.url = _check_url(url)
    if events is not None:
        hook.events = _check_events(events)
    if description is not None:
        hook.description = _no_control_characters(description.strip(), "description")
    if enabled is not None and enabled != hook.enabled:
        hook.enabled = enabled
        hook.disabled_reason = None if enabled else "disabled by a user"
        if enabled:
            hook.failing_since = hook.last_failure_at = None
            channels.EVENTS.notify(session)  # wake dispatchers: deliveries held while it was disabled are due again
        else:
            session.flush()  # fan-out reads the endpoints: this one is disabled already
            session.info.pop("webhooks_by_org", None)
            operational.emit_disabled(session, hook=hook, trigger="manual", now=utcnow())
    hook.updated_at = utcnow()
    session.flush()
    session.info.pop("webhooks_by_org", None)
    return hook


def delete_(session: Session, *, organization_id: str, webhook_id: str) -> Webhook:
    """Remove an endpoint with its deliveries and their log."""
    hook = get(session, organization_id=organization_id, webhook_id=webhook_id)
    ids = select(Delivery.id).where(Delivery.webhook_id == hook.id)
    session.execute(delete(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(ids)))
    session.execute(delete(Delivery).where(Delivery.webhook_id == hook.id))
    session.delete(hook)
    session.flush()
    session.info.pop("webhooks_by_org", None)
    return hook


def rotate_secret(
    session: Session, *, organization_id: str, webhook_id: str, overlap_seconds: float | None = None
) -> Webhook:
    """New secret now; the old one keeps signing `webhook-signature` (after the new) for the overlap window."""
    hook = get(session, organization_id=organization_id, webhook_id=webhook_id)
    overlap = get_settings().webhook_secret_overlap if overlap_seconds is None else overlap_seconds
    check_seconds(overlap, field="overlap_seconds", maximum=MAX_SECRET_OVERLAP_SECONDS)
    now = utcnow()
    hook.previous_secret = hook.secret if overlap > 0 else None
    hook.previous_secret_expires_at = now + timedelta(seconds=overlap) if overlap > 0 else None
    hook.secret = signing.generate_secret()
    hook.updated_at = now
    session.flush()
    return hook
