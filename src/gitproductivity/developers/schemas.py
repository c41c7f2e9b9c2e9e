from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from gitproductivity.core.pagination import CountedPage


class DeveloperCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320, description="Primary email")
    aliases: list[str] = Field(default_factory=list, max_length=100, description="Other emails of this person")


class DeveloperRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    email: str
    aliases: list[str]
    is_bot: bool
    created_at: datetime
    removed_at: datetime | None


class DeveloperPage(CountedPage[DeveloperRead]):
    previous_cursor: str | None = Field(
        default=None, description="Pass as `before` for the previous page (None on the first page)"
    )


class AliasCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=320, description="Another email of this developer")


class DeveloperMerge(BaseModel):
    model_config = ConfigDict(extra="forbid")
    developer_id: str = Field(description="The developer to fold into this one (it is removed afterwards)")
