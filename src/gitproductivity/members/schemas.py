from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gitproductivity.core.pagination import Page
from gitproductivity.orgs.roles import Role


class MemberInvite(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=320, description="Who to invite; the link goes to this address")
    role: Role = Field(description="owner (everything, members and API keys), admin or viewer")


class MemberUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role


class MemberRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    email: str
    role: Role
    status: Literal["invited", "active"] = Field(description="invited: has not set a password at the link yet")
    created_at: datetime


class MemberInvited(MemberRead):
    accept_url: str = Field(
        description="The one-time link where the invitee sets a password (valid 7 days). Shown only here."
    )
    emailed: bool = Field(description="Whether the link was also e-mailed (SMTP configured)")


MemberPage = Page[MemberRead]
