from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class EventRead(BaseModel):
    """The envelope, exactly as delivered to webhooks."""

    id: str = Field(examples=["evt_01jd4x2k3m5n6p7q8r9s0t1v2w"])
    type: str = Field(examples=["developer.added"])
    created_at: str = Field(examples=["2026-03-19T10:30:00Z"])
    data: dict[str, Any]


class EventPage(BaseModel):
    data: list[EventRead]
    has_more: bool
    next_cursor: str | None = Field(description="Pass as `after` to continue; also the id of the last event")
