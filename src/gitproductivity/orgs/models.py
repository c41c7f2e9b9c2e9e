from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from gitproductivity.core.db import Base
from gitproductivity.core.types import UTCDateTime


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MemberStatus(StrEnum):
    INVITED = "invited"
    ACTIVE = "active"


class User(Base):
    """A member of one organisation: someone who signs in to the web UI, with a role."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    # Empty while the member is invited: nothing verifies against it until they set a password.
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20), default="owner")  # orgs.roles.Role
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")  # MemberStatus
    # An invitation (or an operator's reset link): sha256 of the one-time token, and when it stops working.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, index=True, nullable=True)
    token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # The first characters of the key, shown in lists so a person can tell keys apart.
    prefix: Mapped[str] = mapped_column(String(20))
    # sha256 of the full key: keys are 190 random bits, so a fast hash is safe and lookups stay O(1).
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(20), default="owner", server_default="owner")  # orgs.roles.Role
    # The member who made it: the key acts as them (`/v1/me`, their notifications' read state) and never with a
    # higher role than theirs; removing the member revokes it.
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class UserSession(Base):
    """A signed-in browser. The cookie carries a random id; only its SHA-256 is stored, so a copy of this table
    signs nobody in. Deleting the row ends the session at once (sign-out, a password change)."""

    __tablename__ = "user_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Absolute end (created_at + GITPRODUCTIVITY_SESSION_MAX_AGE); idle expiry is last_seen_at's business.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
