"""Background work: every component (webhook dispatcher, analysis runner, …) is a long-running coroutine.

`gitproductivity worker` runs them alone; `gitproductivity serve` runs them inside the API process. Each
component takes a stop event and must return promptly once it is set (graceful shutdown on SIGTERM).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)

Component = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


def components() -> dict[str, Component]:
    """The background components, by name. Domains add theirs here, explicitly."""
    from gitproductivity.analysis import tasks as analysis_tasks
    from gitproductivity.webhooks import dispatcher, retention

    found: dict[str, Component] = {
        "dispatcher": dispatcher.run,
        "analysis": analysis_tasks.run,
        "retention": retention.run,
    }
    return found


async def run(stop: asyncio.Event, *, only: set[str] | None = None) -> None:
    from gitproductivity import startup

    startup.install()
    selected = {name: c for name, c in components().items() if only is None or name in only}
    if not selected:
        log.info("no background components to run; waiting for shutdown")
        await stop.wait()
        return
    log.info("worker running: %s", ", ".join(selected))
    tasks = [asyncio.create_task(comp(stop), name=name) for name, comp in selected.items()]
    try:
        done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            if task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)


def run_forever(*, only: set[str] | None = None) -> None:
    """Run until SIGTERM or SIGINT, then let in-flight work finish."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run(stop, only=only)

    asyncio.run(main())
