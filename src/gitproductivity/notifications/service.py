"""In-app notifications for an organisation, mirrored by e-mail to its active owners when SMTP is configured.

The notification row is written in the caller's transaction; the e-mail is sent only after that transaction
commits, on a background thread, so a slow or broken mail server never holds a database transaction open.
Read state belongs to each reader (a member, or an API key: `orgs.service.Principal.reader_id`), one
`NotificationReceipt` row per reader who read a notice.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial

from sqlalchemy import and_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import after_commit, get_owned
from gitproductivity.core.ids import new_id
from gitproductivity.core.settings import get_settings
from gitproductivity.notifications.mailer import get_mailer
from gitproductivity.notifications.models import Notification, NotificationReceipt
from gitproductivity.orgs import service as orgs

log = logging.getLogger(__name__)

_mail_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gitproductivity-mail")

#: A notification and when the reader asked about read it (None: unread).
Seen = tuple[Notification, datetime | None]


def _send_mail(to: list[str], subject: str, body: str) -> None:
    mailer = get_mailer(get_settings())
    if mailer is None or not to:
        return
    try:
        mailer.send(to=to, subject=subject, body=body)
    except Exception as exc:  # the in-app notification is the record; e-mail is best effort
        log.warning("could not send notification e-mail %r: %s: %s", subject, type(exc).__name__, exc)


def queue_mail(to: list[str], subject: str, body: str) -> None:
    """Send an e-mail on the mail thread (call it after commit: `core.db.after_commit`); failures are logged."""
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
        after_commit(session, partial(queue_mail, to, f"[GitProductivity] {subject}", body))
    return note


def list_(
    session: Session,
    *,
    organization_id: str,
    reader_id: str,
    unread: bool = False,
    after: str | None = None,
    limit: int = 50,
) -> list[Seen]:
    """Newest first, with `reader_id`'s read time; up to `limit + 1` rows (the extra one says there is more)."""
    receipt = and_(NotificationReceipt.notification_id == Notification.id, NotificationReceipt.reader_id == reader_id)
    stmt = (
        select(Notification, NotificationReceipt.read_at)
        .outerjoin(NotificationReceipt, receipt)
        .where(Notification.organization_id == organization_id)
    )
    if unread:
        stmt = stmt.where(NotificationReceipt.read_at.is_(None))
    if after:
        stmt = stmt.where(Notification.id < after)
    return [(n, at) for n, at in session.execute(stmt.order_by(Notification.id.desc()).limit(limit + 1))]


def mark_read(session: Session, *, organization_id: str, reader_id: str, notification_id: str) -> Seen:
    """Mark read for `reader_id` only: every other member keeps their own state."""
    note = get_owned(session, Notification, organization_id=organization_id, id=notification_id, what="notification")
    receipt = session.get(NotificationReceipt, (note.id, reader_id))
    if receipt is None:
        receipt = NotificationReceipt(notification_id=note.id, reader_id=reader_id, read_at=utcnow())
        session.add(receipt)
        session.flush()
    return note, receipt.read_at


def mark_all_read(session: Session, *, organization_id: str, reader_id: str) -> int:
    """Mark every notice of the organisation read for `reader_id` only; how many were unread."""
    receipt = and_(NotificationReceipt.notification_id == Notification.id, NotificationReceipt.reader_id == reader_id)
    unread = (
        select(Notification.id)
        .outerjoin(NotificationReceipt, receipt)
        .where(Notification.organization_id == organization_id, NotificationReceipt.read_at.is_(None))
    )
    ids = list(session.scalars(unread))
    if ids:
        now = utcnow()
        rows = [{"notification_id": i, "reader_id": reader_id, "read_at": now} for i in ids]
        # Two "mark all" at once (a double click) both insert the same receipts: the second leaves them be.
        make = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(make(NotificationReceipt).on_conflict_do_nothing(), rows)
        session.flush()
    return len(ids)
