"""Members of an organisation: invitations by e-mail, roles, removal, and accepting an invitation.

A member is an `orgs.models.User` with a role and a status: `invited` (a one-time link, valid
`INVITATION_DAYS`, only its sha256 stored) until they set a password there, then `active`. The invitation's
e-mail goes through the notifications' mailer, after commit, when SMTP is configured. An organisation always
keeps one active owner: removing or demoting the last one is a 409.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import after_commit, get_owned
from gitproductivity.core.emails import fold_email, normalize_email
from gitproductivity.core.errors import Conflict, NotFound, ValidationFailed
from gitproductivity.core.ids import new_id
from gitproductivity.core.settings import get_settings
from gitproductivity.notifications import service as notifications
from gitproductivity.notifications.models import NotificationReceipt
from gitproductivity.orgs import security
from gitproductivity.orgs import service as orgs
from gitproductivity.orgs.models import ApiKey, MemberStatus, Organization, User
from gitproductivity.orgs.roles import Role

INVITATION_DAYS = 7
INVITATION_PATH = "/invitations/"


def accept_url(base_url: str, token: str) -> str:
    return base_url.rstrip("/") + INVITATION_PATH + token


def list_(session: Session, *, organization_id: str, after: str | None = None, limit: int = 50) -> list[User]:
    """Members in id (invitation) order after the cursor, `limit + 1` of them."""
    stmt = select(User).where(User.organization_id == organization_id)
    if after:
        stmt = stmt.where(User.id > after)
    return list(session.scalars(stmt.order_by(User.id).limit(limit + 1)))


def get(session: Session, *, organization_id: str, member_id: str) -> User:
    return get_owned(session, User, organization_id=organization_id, id=member_id, what="member")


def find(session: Session, *, organization_id: str, id_or_email: str) -> User:
    """A member by id or by e-mail address (the CLI takes either)."""
    if "@" not in id_or_email:
        return get(session, organization_id=organization_id, member_id=id_or_email)
    stmt = select(User).where(User.organization_id == organization_id, User.email == fold_email(id_or_email))
    user = session.scalar(stmt)
    if user is None:
        raise NotFound(f"no member of this organisation has the address {id_or_email.strip()[:200]}")
    return user


def invite(session: Session, *, organization_id: str, email: str, role: str, base_url: str) -> tuple[User, str]:
    """Invite `email` with `role`; returns the member and their one-time accept URL (shown once, stored hashed).
    Inviting an address whose invitation is still pending renews its link and role."""
    address = normalize_email(email)
    existing = session.scalar(select(User).where(User.email == address))
    if existing is not None and (
        existing.organization_id != organization_id or existing.status != MemberStatus.INVITED
    ):
        where = "this organisation" if existing.organization_id == organization_id else "another organisation"
        raise Conflict(
            f"{address} is already a member of {where}",
            details=[{"field": "email", "message": f"{address} already signs in as a member of {where}."}],
        )
    now = utcnow()
    token = security.generate_session_id()
    user = existing or User(
        id=new_id("usr"), organization_id=organization_id, email=address, password_hash="", created_at=now
    )
    user.role = Role(role).value
    user.status = MemberStatus.INVITED
    user.token_hash = security.hash_api_key(token)
    user.token_expires_at = now + timedelta(days=INVITATION_DAYS)
    session.add(user)
    session.flush()
    url = accept_url(base_url, token)
    if get_settings().smtp_host:
        org = session.get(Organization, organization_id)
        name = org.name if org is not None else "an organisation"
        body = (
            f"You are invited to {name} on GitProductivity as {user.role}.\n\n"
            f"Choose your password here (the link works once, for {INVITATION_DAYS} days):\n{url}\n"
        )
        after_commit(session, lambda: notifications.queue_mail([address], f"[GitProductivity] Join {name}", body))
    return user, url


def invitation(session: Session, *, token: str) -> User:
    """The invited member a link's token belongs to; a used, renewed, expired or unknown link is a 404."""
    user = None
    if token and len(token) <= 200:
        user = session.scalar(select(User).where(User.token_hash == security.hash_api_key(token)))
    if (
        user is None
        or user.status != MemberStatus.INVITED
        or user.token_expires_at is None
        or user.token_expires_at <= utcnow()
    ):
        raise NotFound("this invitation link is not valid: it was used, replaced, or it expired; ask for a new one")
    return user


def accept(session: Session, *, token: str, password: str) -> User:
    """Set the invited member's password: they become active, and the link stops working."""
    user = invitation(session, token=token)
    if not orgs.MIN_PASSWORD_LENGTH <= len(password) <= orgs.MAX_PASSWORD_LENGTH:
        message = f"Use {orgs.MIN_PASSWORD_LENGTH} to {orgs.MAX_PASSWORD_LENGTH} characters."
        raise ValidationFailed(f"password: {message}", details=[{"field": "password", "message": message}])
    user.password_hash = security.hash_password(password)
    user.status, user.token_hash, user.token_expires_at = MemberStatus.ACTIVE, None, None
    return user


def _other_active_owners(session: Session, user: User) -> int:
    """How many active owners the organisation has besides `user`. Every active owner's row is locked, in id
    order (PostgreSQL; SQLite writers are serialised anyway): two owners demoting each other at once take turns,
    and the second sees the first's change, so an organisation never ends up without an owner."""
    stmt = (
        select(User.id)
        .where(
            User.organization_id == user.organization_id, User.role == Role.OWNER, User.status == MemberStatus.ACTIVE
        )
        .order_by(User.id)
        .with_for_update()
    )
    return len([found for found in session.scalars(stmt) if found != user.id])


def _keep_an_owner(session: Session, user: User, doing: str) -> None:
    if user.role == Role.OWNER and user.status == MemberStatus.ACTIVE and _other_active_owners(session, user) == 0:
        raise Conflict(
            f"cannot {doing} {user.email}: they are the organisation's last owner; make another member owner first",
            details=[{"field": "role", "message": "An organisation keeps at least one owner."}],
        )


def _forget_keys(session: Session) -> None:
    """Keys remembered by this process (`orgs.keycache`) carry the role they had: look them up again."""
    orgs.AUTHENTICATED_KEYS.clear()
    after_commit(session, orgs.AUTHENTICATED_KEYS.clear)


def update_role(session: Session, *, organization_id: str, member_id: str, role: str) -> User:
    """A new role, at once for their web sessions and their API keys (a key never exceeds its member's role)."""
    user = get(session, organization_id=organization_id, member_id=member_id)
    if Role(role) != Role.OWNER:
        _keep_an_owner(session, user, f"make {role}")
    user.role = Role(role).value
    _forget_keys(session)
    return user


def remove(session: Session, *, organization_id: str, member_id: str) -> User:
    """Remove a member (or withdraw an invitation): their sessions and read states go with them, and the API keys
    they made are revoked."""
    user = get(session, organization_id=organization_id, member_id=member_id)
    _keep_an_owner(session, user, "remove")
    now = utcnow()
    session.execute(update(ApiKey).where(ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None)).values(revoked_at=now))
    _forget_keys(session)
    session.execute(delete(NotificationReceipt).where(NotificationReceipt.reader_id == user.id))
    session.delete(user)
    session.flush()
    return user
