"""A clock the tests move: patched over a module's `utcnow`, so hours of schedule take no time.

It stands still until the test advances it, so a time the code computes from "now" is known exactly.
`monotonic()` reads the same clock as seconds since it was made, for code that measures with `time.monotonic`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.start = self.now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def monotonic(self) -> float:
        return (self.now - self.start).total_seconds()
