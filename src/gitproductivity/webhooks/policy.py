"""When to try again, and when to give up (the retry schedule is a setting: `GITPRODUCTIVITY_RETRY_SCHEDULE`).

A receiver that answers `429 Too Many Requests` or `503 Service Unavailable` with `Retry-After` (seconds, or an
HTTP date) is heard: the next try waits at least that long, but never less than the schedule's own step (the
published retry times stay true) and never more than the schedule's longest step.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

#: The statuses whose `Retry-After` is honoured (RFC 9110 defines it for 503 and 3xx; RFC 6585 for 429).
RETRY_AFTER_STATUSES = frozenset({429, 503})

_DELAY_SECONDS = re.compile(r"^\s*(\d{1,10})\s*$")


def next_delay(*, failed_attempts: int, schedule: Sequence[float]) -> float | None:
    """Seconds until the next try after `failed_attempts` failures, or None when the schedule is used up.

    The default schedule (60, 300, 1800, 7200, 86400) gives the first try plus five retries; when the fifth
    retry fails the delivery is `failed`.
    """
    if failed_attempts < 1:
        raise ValueError("failed_attempts starts at 1")
    if failed_attempts > len(schedule):
        return None
    return float(schedule[failed_attempts - 1])


def retry_after(*, status_code: int | None, headers: Mapping[str, str] | None, now: datetime) -> float | None:
    """The seconds a 429/503 answer's `Retry-After` asks for (0 for a date in the past), or None: another status,
    no header, or a value that is neither a number of seconds nor an HTTP date."""
    if status_code not in RETRY_AFTER_STATUSES or not headers:
        return None
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None or len(value) > 64:
        return None
    seconds = _DELAY_SECONDS.match(value)
    if seconds:
        return float(seconds.group(1))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # RFC 9110 dates are GMT
    return max(0.0, (when - now).total_seconds())


def delay_with(*, scheduled: float, asked: float | None, schedule: Sequence[float]) -> float:
    """The wait before the next try: the schedule's step, lengthened to what the receiver asked (`Retry-After`),
    never beyond the schedule's longest step."""
    if asked is None or asked <= scheduled:
        return scheduled
    return min(asked, max(float(s) for s in schedule))
