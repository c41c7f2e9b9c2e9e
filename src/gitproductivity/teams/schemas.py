from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from gitproductivity.core.pagination import CountedPage


class TeamCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, description="Unique within the organisation, in any case")


class TeamUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, description="The new name")


class TeamRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    created_at: datetime
    member_count: int = Field(description="Current (not removed) developers in the team")


TeamPage = CountedPage[TeamRead]
