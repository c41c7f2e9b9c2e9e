"""In-app notifications for an organisation's owners, mirrored by e-mail when SMTP is configured.

The notification row is written in the caller's transaction; the e-mail is sent only after that transaction
commits, on a background thread, so a slow or broken mail server never holds a database transaction open.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import Session

from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import after_commit, get_owned
from gitproductivity.core.ids import new_id
from gitproductivity.core.settings import get_settings
from gitproductivity.notifications.mailer import get_mailer
from gitproductivity.notifications.models import Notification
from gitproductivity.orgs import service as orgs

log = logging.getLogger(__name__)

_mail_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gitproductivity-mail")


def _send_mail(to: list[str], subject: str, body: str) -> None:
    mailer = get_mailer(get_settings())
    if mailer is None or not to:
        return
    try:
        mailer.send(to=to, subject=subject, body=body)
    except Exception as exc:  # the in-app notification is the record; e-mail is best effort
        log.warning("could not send notification e-mail %r: %s: %s", subject, type(exc).__name__, exc)


def _queue_mail(to: list[str], subject: str, body: str) -> None:
    _mail_pool.submit(_send_mail, to, subject, body)


def create(
    session: Session, *, organization_id: str, kind: str, subject: str, body: str, subject_id: str | None = None
) -> Notification:
    note = Notification(
        id=new_id("ntf"),
        organization_id=organization_id,
        kind=kind,
        subject=subject,
        body=body,
        subject_id=subject_id,
        created_at=utcnow(),
    )
    session.add(note)
    if get_settings().smtp_host:
        to = [u.email for u in orgs.owners(session, organization_id=organization_id)]
        after_commit(session, partial(_queue_mail, to, f"[GitProductivity] {subject}", body))
    return note


def list_(
    session: Session, *, organization_id: str, unread: bool = False, after: str | None = None, limit: int = 50
) -> list[Notification]:
    """Newest first; up to `limit + 1` rows (the extra one tells the caller there is more)."""
    stmt = select(Notification).where(Notification.organization_id == organization_id)
    if unread:
        stmt = stmt.where(Notification.read_at.is_(None))
    if after:
        stmt = stmt.where(Notification.id < after)
    return list(session.scalars(stmt.order_by(Notification.id.desc()).limit(limit + 1)))


def mark_read(session: Session, *, organization_id: str, notification_id: str) -> Notification:
    note = get_owned(session, Notification, organization_id=organization_id, id=notification_id, what="notification")
    if note.read_at is None:
        note.read_at = utcnow()
    return note
