from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from gitproductivity.core.pagination import Page


class RepositoryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(
        min_length=1,
        max_length=2000,
        description="Absolute local path, file://, https://, ssh:// or scp-style user@host:path",
    )
    name: str | None = Field(default=None, min_length=1, max_length=200, description="Defaults to the URL's last part")


class RepositoryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    url: str = Field(validation_alias="display_url", description="Credentials, if any, are replaced by ***")
    kind: str
    status: str
    created_at: datetime
    connected_at: datetime
    disconnected_at: datetime | None


RepositoryPage = Page[RepositoryRead]
