"""Endpoint health: how long each endpoint has failed, auto-disable past the limit, and owners told of failures.

Fed by `webhooks.outcomes.record` with each batch's outcomes; writes in the batch's transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, any_, bindparam, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from gitproductivity.core.clock import isoformat_z
from gitproductivity.core.settings import get_settings
from gitproductivity.events.types import OPERATIONAL_EVENT_TYPES
from gitproductivity.notifications import service as notifications
from gitproductivity.webhooks import operational
from gitproductivity.webhooks.endpoints import display_url
from gitproductivity.webhooks.models import Webhook
from gitproductivity.webhooks.operational import Failure as Failure  # re-exported: health.Failure, as before


def _among(session: Session, column: Any, ids: Sequence[str]) -> Any:
    """`column IN (ids)`; on PostgreSQL `column = ANY(:ids)`: one array parameter, so the statement's text (and
    psycopg's parse of it) is the same whatever the batch size."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=ARRAY(String)))
    return column.in_(list(ids))


#: The auto-disable clock restarts when failures stop coming for longer than this fraction of the window
#: (`webhook_auto_disable_after`): with the default 5 days, 30 hours, longer than the last retry's 24 hours.
#: Disabling therefore needs at least five failed attempts spread over the whole window.
MAX_GAP_FRACTION = 0.25


def update(session: Session, *, outcomes: Sequence[tuple[str, bool]], now: datetime) -> None:
    """Track how long each endpoint has failed; disable it when that passes the auto-disable setting.

    `outcomes` are real deliveries' (test webhooks neither start, extend nor reset the clock; `outcomes.record`
    leaves them out). The clock (`failing_since`) starts at a failure when none runs, and restarts at a failure
    that comes more than `MAX_GAP_FRACTION` of the window after the previous one (`last_failure_at`): one failure
    after a long silence is not "failing for 5 days". Any success clears it. The endpoint is disabled at a
    failure at least the window after the clock started.

    Only endpoints whose state may change are read, locked in id order (workers recording outcomes for the
    same endpoints at once queue, never deadlock); while every endpoint is healthy that is nothing at all.
    """
    last: dict[str, bool] = {}
    for webhook_id, ok in outcomes:
        last[webhook_id] = ok
    if not last:
        return
    healthy = [hook_id for hook_id, ok in last.items() if ok]
    failing = [hook_id for hook_id, ok in last.items() if not ok]
    changing = (
        select(Webhook)
        .where(
            or_(
                and_(_among(session, Webhook.id, healthy), Webhook.failing_since.is_not(None)),
                _among(session, Webhook.id, failing),
            )
        )
        .order_by(Webhook.id)
        .with_for_update()
    )
    limit = get_settings().webhook_auto_disable_after
    for hook in session.scalars(changing):
        if last[hook.id]:
            hook.failing_since = hook.last_failure_at = None
            continue
        if hook.failing_since is None or hook.last_failure_at is None or _gap_too_long(hook.last_failure_at, now):
            hook.failing_since = now
        hook.last_failure_at = now
        if limit > 0 and hook.enabled and (now - hook.failing_since).total_seconds() >= limit:
            _auto_disable(session, hook=hook, now=now)


def _gap_too_long(previous: datetime, now: datetime) -> bool:
    """Failures this far apart are not one streak (0 = the rule is off: any gap is fine, nothing is disabled)."""
    limit = get_settings().webhook_auto_disable_after
    return limit > 0 and (now - previous).total_seconds() > limit * MAX_GAP_FRACTION


def _short(url: str, limit: int = 160) -> str:
    """A URL short enough for a notice's subject (the body has it whole)."""
    return url if len(url) <= limit else url[: limit - 1] + "…"


def _span(since: datetime | None, now: datetime) -> str:
    """`5 days`, `3 hours`, `1 minute`: how long, in the largest whole unit."""
    seconds = max(0, int((now - (since or now)).total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'' if n == 1 else 's'}"
    return "less than a minute"


def _auto_disable(session: Session, *, hook: Webhook, now: datetime) -> None:
    since_at = hook.failing_since or now
    since = isoformat_z(since_at)
    hook.enabled = False
    hook.disabled_reason = f"disabled automatically: every delivery has failed since {since}"
    hook.updated_at = now
    notifications.create(
        session,
        organization_id=hook.organization_id,
        kind="webhook.disabled",
        subject=f"Webhook {_short(display_url(hook.url))} was disabled after failing for {_span(since_at, now)}",
        body=(
            f"The webhook {hook.id} ({display_url(hook.url)}) was disabled because every delivery to it has failed "
            f"since {since}. Its pending deliveries are kept and resume when you enable it again "
            '(PATCH /v1/webhooks/{id} {"enabled": true} or `gitproductivity webhooks enable`).'
        ),
        subject_id=hook.id,
    )
    operational.emit_disabled(session, hook=hook, trigger="automatic", now=now)


def notify_failed(session: Session, *, exhausted: Sequence[Failure]) -> None:
    """One notification per endpoint per batch, listing the deliveries that ran out of retries, and one
    `webhook.delivery.failed` event per delivery, except for deliveries of operational events themselves: their
    failure is told to owners only, so no endpoint hears of its own failures in a loop (docs/webhooks.md)."""
    operational.emit_failed(session, exhausted=[f for f in exhausted if f.event_type not in OPERATIONAL_EVENT_TYPES])
    by_hook: dict[str, list[Failure]] = defaultdict(list)
    for f in exhausted:
        by_hook[f.webhook_id].append(f)
    for hook_id, items in by_hook.items():
        first = items[0]
        url = display_url(first.url)
        lines = [f"- {f.delivery_id} ({f.event_type}, event {f.event_id}): {f.error}" for f in items[:50]]
        if len(items) > 50:
            lines.append(f"- and {len(items) - 50} more")
        notifications.create(
            session,
            organization_id=first.organization_id,
            kind="delivery.failed",
            subject=(
                f"A {first.event_type} delivery to {_short(url)} failed after {first.attempts} attempts"
                if len(items) == 1
                else f"{len(items)} deliveries to {_short(url)} failed after {first.attempts} attempts"
            ),
            body=(
                f"These deliveries to webhook {hook_id} ({url}) failed after {first.attempts} attempts and will not "
                "be retried:\n" + "\n".join(lines) + "\n\nRe-send them with "
                "POST /v1/deliveries/{id}/redeliver or `gitproductivity webhooks redeliver DELIVERY_ID`."
            ),
            subject_id=first.delivery_id if len(items) == 1 else hook_id,
        )
