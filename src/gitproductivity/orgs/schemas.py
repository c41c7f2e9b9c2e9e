from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from gitproductivity.core.pagination import Page
from gitproductivity.orgs.roles import Role


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(default="API key", min_length=1, max_length=200)
    role: Role = Field(
        default=Role.OWNER, description="What the key may do: owner (the default, as before roles), admin or viewer"
    )


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    prefix: str
    role: Role
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The secret key. Shown only in this response; store it now.")


ApiKeyPage = Page[ApiKeyRead]


class OrganizationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    created_at: datetime


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024, description="12 to 1024 characters")


class PasswordChanged(BaseModel):
    sessions_ended: int = Field(description="Web sessions of yours that were signed out")
