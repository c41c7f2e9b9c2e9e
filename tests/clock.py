"""A clock the tests move: patched over a module's `utcnow`, so hours of schedule take no time.

It stands still until the test advances it, so a time the code computes from "now" is known exactly.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
