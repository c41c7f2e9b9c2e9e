"""When to try again, and when to give up (the retry schedule is a setting: `GITPRODUCTIVITY_RETRY_SCHEDULE`)."""

from __future__ import annotations

from collections.abc import Sequence


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
