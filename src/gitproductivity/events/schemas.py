from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


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


class EventTypeRead(BaseModel):
    """One event type: what it means, the JSON Schema of its envelope, and an example envelope."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    type: str = Field(examples=["developer.added"])
    description: str = Field(examples=["A new developer was added to the organization"])
    category: Literal["product", "operational", "test"] = Field(
        description="`product`: what happened in GitProductivity; `operational`: about the webhooks themselves "
        "(an endpoint disabled, a delivery failed); `test`: the test webhook"
    )
    schema_: dict[str, Any] = Field(
        alias="schema",
        description="JSON Schema (2020-12) of the whole envelope `{id, type, created_at, data}`; `data`'s schema is "
        "in its `$defs`. Every field we send is listed and required; other properties are not forbidden, since "
        "fields may be added and test deliveries add `test: true` to `data`",
    )
    example: dict[str, Any] = Field(description="A full example envelope, as delivered")


class EventTypeList(BaseModel):
    data: list[EventTypeRead] = Field(description="Every event type, `webhook.test` last")
    has_more: bool
    next_cursor: str | None = Field(description="Pass as `after` for the next page (the last type of this one)")
