"""The analysis worker component: claim jobs (batch, lease), run each in a child process (`analysis.child`),
re-check on a schedule.

Registered in `workers` while it runs (`core.workers`): a worker killed mid-analysis is found gone by the next
worker to start or heartbeat, and its job is taken again at once rather than when its lease runs out.

Wakes on an in-process signal when a job is queued here, on PostgreSQL NOTIFY when queued by another process,
and otherwise polls every `analysis_poll_interval` seconds. A semaphore caps the analyses run at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from gitproductivity.analysis import child, jobs
from gitproductivity.analysis.models import Analysis
from gitproductivity.core import channels, telemetry, workers
from gitproductivity.core.db import get_database
from gitproductivity.core.settings import get_settings

log = logging.getLogger(__name__)


async def run(stop: asyncio.Event) -> None:
    settings = get_settings()
    # Registered and heartbeating (core.workers): the jobs are claimed under this id, so that a worker that
    # starts after this one was killed hands them back at once. Registering prunes dead workers first.
    me = workers.Registration(get_database(), role="analysis")
    await asyncio.to_thread(me.start)
    slots = asyncio.Semaphore(max(1, settings.analysis_concurrency))
    woken = channels.ANALYSIS.subscribe()
    listener = asyncio.create_task(channels.ANALYSIS.listen(get_database(), woken, stop, retry=5.0))
    running: set[asyncio.Task[None]] = set()
    last_schedule = 0.0
    loop = asyncio.get_running_loop()
    try:
        while not stop.is_set():
            woken.clear()
            if loop.time() - last_schedule >= min(settings.analysis_poll_interval, 60.0):
                last_schedule = loop.time()
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(_schedule)
            free = settings.analysis_concurrency - len(running)
            if free > 0:
                worker = me.id or jobs.worker_name()  # unregistered (database away at start): leases alone
                try:
                    claimed = await asyncio.to_thread(_claim, worker, free)
                except Exception:
                    log.exception("could not claim analysis jobs")
                    claimed = []
                for analysis_id in claimed:
                    await slots.acquire()
                    task = asyncio.create_task(_execute(analysis_id, worker, slots))
                    running.add(task)
                    task.add_done_callback(running.discard)
                if claimed:
                    continue
            waits: list[asyncio.Task[bool]] = [asyncio.create_task(woken.wait()), asyncio.create_task(stop.wait())]
            await asyncio.wait(waits, timeout=settings.analysis_poll_interval, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waits:
                waiter.cancel()
    finally:
        channels.ANALYSIS.unsubscribe(woken)
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        await asyncio.gather(*running, return_exceptions=True)  # let running analyses finish (graceful)
        await asyncio.to_thread(me.stop)


def _schedule() -> None:
    with get_database().session() as session:
        jobs.schedule_rechecks(session)


def _claim(worker: str, limit: int) -> list[str]:
    with get_database().session() as session:
        return [a.id for a in jobs.claim(session, worker=worker, limit=limit)]


def _count(analysis_id: str, status: str) -> None:
    """The finished analysis in the metrics (core.telemetry): counted here, in the worker, not in the child."""
    with get_database().session() as session:
        row = session.get(Analysis, analysis_id)
    seconds = None
    if row is not None and row.started_at is not None and row.finished_at is not None:
        seconds = (row.finished_at - row.started_at).total_seconds()
    telemetry.record_analysis(status=status, seconds=seconds, commits=row.commits_done if row is not None else 0)


async def _execute(analysis_id: str, worker: str, slots: asyncio.Semaphore) -> None:
    try:
        status = await child.execute(analysis_id, worker)
        log.info("analysis %s %s", analysis_id, status)
        with contextlib.suppress(Exception):  # a metric never fails an analysis
            await asyncio.to_thread(_count, analysis_id, status)
    except Exception:
        log.exception("analysis %s crashed", analysis_id)
    finally:
        slots.release()
