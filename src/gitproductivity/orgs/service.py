"""Organisations (tenants), their owners, and API keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import after_commit, get_owned
from gitproductivity.core.emails import fold_email, normalize_email
from gitproductivity.core.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from gitproductivity.core.ids import new_id
from gitproductivity.core.settings import get_settings
from gitproductivity.orgs import keycache, security
from gitproductivity.orgs.models import ApiKey, MemberStatus, Organization, User, UserSession
from gitproductivity.orgs.roles import Role, lesser, require


@dataclass(frozen=True)
class Principal:
    """Who is calling: every query is scoped to `organization_id`."""

    organization_id: str
    api_key_id: str | None = None
    user_id: str | None = None
    #: What the caller may do (`orgs.roles`); the least unless said otherwise.
    role: str = Role.VIEWER

    @property
    def reader_id(self) -> str:
        """Whose read state notifications use: the member's (a key's is the member who made it), else the key's."""
        return self.user_id or self.api_key_id or self.organization_id


#: Keys that authenticated lately (`orgs.keycache`): most API requests skip the lookup.
AUTHENTICATED_KEYS: keycache.KeyCache[Principal] = keycache.KeyCache()


@dataclass(frozen=True)
class Bootstrap:
    organization: Organization
    user: User
    password: str
    api_key: str


def any_exist(session: Session) -> bool:
    return bool(session.scalar(select(exists().where(Organization.id.is_not(None)))))


def bootstrap(
    session: Session, *, email: str, org_name: str = "My organization", password: str | None = None
) -> Bootstrap:
    """Create an organisation, its owner and a first API key. Secrets are returned once, stored hashed."""
    email = normalize_email(email)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"a user with email {email} already exists")
    now = utcnow()
    org = Organization(id=new_id("org"), name=org_name.strip() or "My organization", created_at=now)
    password = password or security.generate_password()
    user = User(
        id=new_id("usr"),
        organization_id=org.id,
        email=email,
        password_hash=security.hash_password(password),
        role=Role.OWNER,
        status=MemberStatus.ACTIVE,
        created_at=now,
    )
    session.add_all([org, user])
    session.flush()
    _key, raw = create_api_key(session, organization_id=org.id, name="Initial key", user_id=user.id)
    return Bootstrap(organization=org, user=user, password=password, api_key=raw)


def create_api_key(
    session: Session,
    *,
    organization_id: str,
    name: str,
    role: str = Role.OWNER,
    granted_by: str = Role.OWNER,
    user_id: str | None = None,
) -> tuple[ApiKey, str]:
    """A new key with `role`, made by the member `user_id`; `granted_by` (the caller's role) hands out no more
    than it has itself."""
    require(granted_by, Role(role), f"create an API key with the role {Role(role).value}")
    raw = security.generate_api_key()
    key = ApiKey(
        id=new_id("key"),
        organization_id=organization_id,
        name=name,
        prefix=raw[:10],
        key_hash=security.hash_api_key(raw),
        role=Role(role).value,
        user_id=user_id,
        created_at=utcnow(),
    )
    session.add(key)
    session.flush()
    return key, raw


def list_api_keys(session: Session, *, organization_id: str, after: str | None = None, limit: int = 50) -> list[ApiKey]:
    """Keys in id (creation) order after the cursor, `limit + 1` of them (the extra one says whether more follow)."""
    stmt = select(ApiKey).where(ApiKey.organization_id == organization_id)
    if after:
        stmt = stmt.where(ApiKey.id > after)
    return list(session.scalars(stmt.order_by(ApiKey.id).limit(limit + 1)))


def revoke_api_key(session: Session, *, organization_id: str, key_id: str) -> ApiKey:
    key = get_owned(session, ApiKey, organization_id=organization_id, id=key_id, what="API key")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    key_hash = key.key_hash
    AUTHENTICATED_KEYS.forget(key_hash)  # now (a lookup in flight may put it back) and once it has committed
    after_commit(session, lambda: AUTHENTICATED_KEYS.forget(key_hash))
    return key


def authenticated_key(raw_key: str) -> Principal | None:
    """The principal of a key that authenticated within the last `keycache.TTL_SECONDS` in this process and was
    not revoked here since, without touching the database; None: look it up (`authenticate_api_key`)."""
    return AUTHENTICATED_KEYS.get(security.hash_api_key(raw_key))


def authenticate_api_key(session: Session, *, raw_key: str) -> Principal:
    key_hash = security.hash_api_key(raw_key)
    generation = AUTHENTICATED_KEYS.generation  # before the lookup: see KeyCache.generation
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))
    if key is None or key.revoked_at is not None:
        raise Unauthorized("invalid or revoked API key")
    now = utcnow()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 300:
        key.last_used_at = now  # coarse on purpose: not a write on every request
    member = session.get(User, key.user_id) if key.user_id else None
    role = lesser(key.role, member.role) if member is not None else Role(key.role)
    principal = Principal(organization_id=key.organization_id, api_key_id=key.id, user_id=key.user_id, role=role.value)
    after_commit(session, lambda: AUTHENTICATED_KEYS.put(key_hash, principal, generation))
    return principal


def authenticate_user(session: Session, *, email: str, password: str) -> User:
    user = session.scalar(select(User).where(User.email == fold_email(email)))
    if user is None or user.status != MemberStatus.ACTIVE or not user.password_hash:
        raise Unauthorized("wrong email or password")
    if not security.verify_password(user.password_hash, password):
        raise Unauthorized("wrong email or password")
    return user


def get_user(session: Session, *, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def get_organization(session: Session, *, organization_id: str) -> Organization:
    org = session.get(Organization, organization_id)
    if org is None:
        raise NotFound(f"organization {organization_id} not found")
    return org


def owners(session: Session, *, organization_id: str) -> list[User]:
    """The active owners (an invitation not yet accepted owns nothing): who failure notices go to."""
    stmt = select(User).where(
        User.organization_id == organization_id, User.role == Role.OWNER, User.status == MemberStatus.ACTIVE
    )
    return list(session.scalars(stmt.order_by(User.id)))


# --- web sessions and passwords ---------------------------------------------------------------------------------

#: last_seen_at is written at most this often per session (idle expiry is that coarse), not on every request.
SESSION_TOUCH_SECONDS = 60
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # argon2 hashes any length; this only bounds the work a request can ask for


def start_session(session: Session, *, user_id: str) -> str:
    """A new server-side session for `user_id`; returns the random id for the cookie (stored only hashed).
    Sessions that ran out are deleted on the way, so the table holds only live ones."""
    settings = get_settings()
    now = utcnow()
    session.execute(
        delete(UserSession).where(
            (UserSession.expires_at <= now)
            | (UserSession.last_seen_at <= now - timedelta(seconds=settings.session_idle_timeout))
        )
    )
    token = security.generate_session_id()
    session.add(
        UserSession(
            id_hash=security.hash_api_key(token),
            user_id=user_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(seconds=settings.session_max_age),
        )
    )
    session.flush()
    return token


def session_user(session: Session, *, token: str, activity: bool = True) -> User | None:
    """The user a session id belongs to, or None when it was ended, ran out (absolutely or idle) or never was.
    `activity=False` (a page's background poll) checks the session without counting as use: an open tab that
    polls must not keep an unattended session from going idle."""
    if not token or len(token) > 200:
        return None
    row = session.get(UserSession, security.hash_api_key(token))
    if row is None:
        return None
    now = utcnow()
    idle = timedelta(seconds=get_settings().session_idle_timeout)
    if row.expires_at <= now or row.last_seen_at + idle <= now:
        session.delete(row)
        return None
    if activity and (now - row.last_seen_at).total_seconds() >= SESSION_TOUCH_SECONDS:
        row.last_seen_at = now
    return session.get(User, row.user_id)


def end_session(session: Session, *, token: str) -> None:
    session.execute(delete(UserSession).where(UserSession.id_hash == security.hash_api_key(token)))


def end_sessions(session: Session, *, user_id: str) -> int:
    """Sign `user_id` out everywhere; returns how many sessions ended."""
    result = session.execute(delete(UserSession).where(UserSession.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)


def change_password(session: Session, *, user_id: str, current_password: str, new_password: str) -> str:
    """Check the current password, store the new one, end every session of the user (a thief's copy of a cookie
    included) and return a new session id for the browser that made the change."""
    change_own_password(session, user_id=user_id, current_password=current_password, new_password=new_password)
    return start_session(session, user_id=user_id)


def change_own_password(session: Session, *, user_id: str | None, current_password: str, new_password: str) -> int:
    """Check the current password, store the new one and end every web session of the user; returns how many.
    `user_id` None (an API key whose member was removed) belongs to nobody: a 409."""
    if user_id is None:
        raise Conflict("this API key belongs to no member, so it has no password to change")
    user = get_user(session, user_id=user_id)
    if not security.verify_password(user.password_hash, current_password[:MAX_PASSWORD_LENGTH]):
        raise ValidationFailed(
            "current_password: that is not your current password",
            details=[{"field": "current_password", "message": "That is not your current password."}],
        )
    if not MIN_PASSWORD_LENGTH <= len(new_password) <= MAX_PASSWORD_LENGTH:
        message = f"Use {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters."
        raise ValidationFailed(f"new_password: {message}", details=[{"field": "new_password", "message": message}])
    if new_password == current_password:
        message = "Choose a password different from the current one."
        raise ValidationFailed(f"new_password: {message}", details=[{"field": "new_password", "message": message}])
    user.password_hash = security.hash_password(new_password)
    return end_sessions(session, user_id=user.id)


def _user_by_email(session: Session, *, email: str) -> User:
    user = session.scalar(select(User).where(User.email == fold_email(email)))
    if user is None:
        raise NotFound(f"no user signs in with {email.strip()[:200]}")
    return user


def reset_password(session: Session, *, email: str, new_password: str) -> int:
    """An operator's reset of a forgotten password (no current password needed): store the new one and end every
    session of the user. Returns how many sessions ended."""
    user = _user_by_email(session, email=email)
    if not MIN_PASSWORD_LENGTH <= len(new_password) <= MAX_PASSWORD_LENGTH:
        raise ValidationFailed(f"the new password must have {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters")
    if any(c == "\x00" or "\ud800" <= c <= "\udfff" for c in new_password):  # refused by the sign-in form too
        raise ValidationFailed("the new password must not contain NUL characters or invalid text")
    user.password_hash = security.hash_password(new_password)
    user.status, user.token_hash, user.token_expires_at = MemberStatus.ACTIVE, None, None  # an invitation ends too
    return end_sessions(session, user_id=user.id)


def sign_out_everywhere(session: Session, *, email: str) -> int:
    """End every web session of the user with this e-mail (a lost laptop, a stolen cookie); returns how many."""
    return end_sessions(session, user_id=_user_by_email(session, email=email).id)
