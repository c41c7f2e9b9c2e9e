"""The base of every event payload model: strict, immutable, always validated (`events.payloads` has the models
and the catalogue; `events.operational` the operational events')."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, ClassVar, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer

from gitproductivity.core.clock import isoformat_z

__all__ = ["EventData", "Payload", "Timestamp"]


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("a timestamp needs a time zone (naive datetimes are ambiguous)")
    return value


#: A point in time, sent in the envelope's form: UTC, to the second, `2026-03-19T10:30:00Z`.
Timestamp = Annotated[
    datetime,
    AfterValidator(_aware),
    PlainSerializer(isoformat_z, return_type=str, when_used="json"),
    Field(examples=["2026-03-19T10:30:00Z"], json_schema_extra={"pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"}),
]


def _published_schema(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """Published schemas describe what we send without forbidding more (fields may be added; tests add `test`)."""
    schema.pop("additionalProperties", None)
    example = getattr(model, "example", None)
    if isinstance(example, model):
        schema["examples"] = [example.model_dump(mode="json")]


class Payload(BaseModel):
    """Strict, immutable, always validated: the base of every payload model and its parts."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_published_schema)

    @classmethod
    def model_construct(  # type: ignore[override]  # the pydantic plugin types it per model; we refuse it
        cls, _fields_set: set[str] | None = None, **values: Any
    ) -> Self:
        raise TypeError(f"{cls.__name__} is always validated: build it with {cls.__name__}(...)")

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        if update:
            raise TypeError(f"{type(self).__name__} is immutable: build a new one with {type(self).__name__}(...)")
        return super().model_copy(deep=deep)


class EventData(Payload):
    """The `data` of one event type. Subclasses set the three class variables; `emit` takes only these."""

    #: The public type name (`developer.added`, …): `emit` takes the event's type from here.
    event_type: ClassVar[str]
    #: One line, as on the published webhooks page.
    description: ClassVar[str]
    #: A valid instance: the documented example and the sample a test delivery sends.
    example: ClassVar[EventData]
