"""Bounded inputs: the one home of the types every number and date-time taken from outside goes through.

API bodies and query parameters use the annotated types; the CLI, the UI's forms and the services (which the CLI
calls directly) use the checking functions. The rules, documented in docs/security.md:

- a number is finite (no `inf`, `nan`, `1e400`) and lies between a documented minimum and maximum, chosen so that
  nothing computed from it (a deadline, an offset added to now) can leave the range of a date-time;
- a date-time written without a UTC offset (`2026-11-01T00:00:00`, or a bare date `2024-01-01`) means UTC, as
  everywhere in GitProductivity; one with an offset is converted to UTC, and one that falls outside the years
  1 to 9999 once converted is refused (422, or the CLI's one-line error), never a server error.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field, TypeAdapter, ValidationError

from gitproductivity.core.errors import ValidationFailed

#: The longest overlap a webhook secret rotation may ask for (the old secret keeps signing meanwhile).
MAX_SECRET_OVERLAP_SECONDS = 30 * 86400

#: Marks, in the OpenAPI document, a date-time input validated as below (tests/core/test_input_bounds.py).
UTC_DATETIME_SCHEMA = {"x-naive-means": "UTC"}


def _to_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("must lie between the years 1 and 9999 once converted to UTC") from None


UtcDateTime = Annotated[
    datetime,
    AfterValidator(_to_utc),
    Field(
        description="ISO 8601; without a UTC offset the time is UTC (a bare date is its midnight, UTC)",
        json_schema_extra=UTC_DATETIME_SCHEMA,
    ),
]


def _shown(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def seconds(maximum: float, description: str, **extra: Any) -> Any:
    """A `Field` for a finite number of seconds between 0 and `maximum` (both documented in the schema)."""
    return Field(
        ge=0, le=maximum, allow_inf_nan=False, description=f"{description} (0 to {_shown(maximum)} s)", **extra
    )


_UTC_DATETIME: TypeAdapter[datetime] = TypeAdapter(UtcDateTime)


def parse_utc_datetime(text: str, *, field: str = "since") -> datetime:
    """What the API does with a date-time string, for the CLI and the UI's forms."""
    try:
        return _UTC_DATETIME.validate_python(text.strip())
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise ValidationFailed(
            f"{field}: {text[:40]!r} is not a date and time like 2026-03-19T10:30:00Z ({reason})",
            details=[{"field": field, "message": reason}],
        ) from None


def check_seconds(value: float, *, field: str, maximum: float) -> float:
    """Refuse a number of seconds that is not finite or outside 0..`maximum` (services, for every caller)."""
    if not math.isfinite(value) or not 0 <= value <= maximum:
        raise ValidationFailed(
            f"{field} must be a number of seconds from 0 to {_shown(maximum)}, not {value!r}",
            details=[{"field": field, "message": f"from 0 to {_shown(maximum)}"}],
        )
    return float(value)
