"""A clock the tests move: patched over a module's `utcnow`, so hours of schedule take no time.

It stands still until the test advances it, so a time the code computes from "now" is known exactly.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from datetime import UTC, datetime, timedelta
from types import ModuleType

import pytest


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@functools.cache
def _modules_reading_the_clock() -> tuple[ModuleType, ...]:
    """Every module of the package that took `utcnow` from core.clock (imported here, so none is missed)."""
    import gitproductivity
    from gitproductivity.core import clock

    found = []
    for info in pkgutil.walk_packages(gitproductivity.__path__, "gitproductivity."):
        if ".migrations" in info.name:
            continue
        module = importlib.import_module(info.name)
        if getattr(module, "utcnow", None) is clock.utcnow:
            found.append(module)
    return tuple(found)


def moved_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """A Clock over every module that reads "now": fan-out, claims, outcomes and tests all see the same time.

    Patching a chosen few modules breaks silently when code moves (fan-out left the queue module once, and its
    deliveries were stamped with the real time while claims read the test's).
    """
    c = Clock()
    for module in _modules_reading_the_clock():
        monkeypatch.setattr(module, "utcnow", c)
    return c
