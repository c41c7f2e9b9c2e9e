"""Each analysis runs in a child process, so its CPU work never stalls the API, the UI or the dispatcher.

Reading a large history is CPU-bound Python (parsing `git log --numstat`, matching paths, tallying) on top of
git's own work; in the server's process it held the GIL for long stretches and every request and delivery
waited (issue 12). The child is a `multiprocessing` forkserver child: the server's event loop only waits on
the child's sentinel, and the child does everything `run.execute` did in a thread before: it claims nothing
(the parent claimed the job under its worker name), renews the lease from its own heartbeat thread, records
progress, and stores the result in one transaction, or fails the job with its error.

What can go wrong with a second process, and what happens then:
- the child dies (killed, out of memory, crashed): the parent fails the job at once with a clear error (a failed
  attempt, like any other failure), instead of leaving it `running` until its lease runs out;
- the parent dies (SIGKILL): the child notices at once (the parent's end of a pipe closes) and exits before it
  stores anything, so the job's lease runs out and another worker takes it again, as when an in-process worker
  died; nothing half written (one transaction);
- Ctrl-C or SIGTERM sent to the whole process group: the child ignores them; the parent decides (graceful
  shutdown waits for running analyses, as before).
- the child can run at a lower CPU priority (`GITPRODUCTIVITY_ANALYSIS_NICE`, and so do the git processes it
  starts); the default is the server's own, because a niced child on a busy machine holds SQLite's write lock
  longer while it stores, and deliveries wait for that lock (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections.abc import Callable
from multiprocessing.context import ForkServerContext
from typing import Any

from gitproductivity.analysis import jobs
from gitproductivity.analysis import run as runner
from gitproductivity.analysis.models import Analysis, AnalysisStatus
from gitproductivity.core import settings as settings_module
from gitproductivity.core.db import get_database
from gitproductivity.core.settings import get_settings

log = logging.getLogger(__name__)

_context: ForkServerContext | None = None
#: The process's start-up wiring (`gitproductivity.startup.install`), registered by that very function: the child
#: runs it too. Handed to the child by reference (pickled by name), so `analysis` never imports the entry layer.
_setup: Callable[[], None] | None = None


def on_start(setup: Callable[[], None]) -> None:
    """Register what a child runs before its analysis (called by `gitproductivity.startup.install`)."""
    global _setup
    _setup = setup


def _get_context() -> ForkServerContext:
    """The forkserver preloads the analysis code once; each child is then a cheap fork of a clean process (no
    threads, event loop or database connections of the server's are inherited)."""
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(["gitproductivity.analysis.child"])
    return _context


async def execute(analysis_id: str, worker: str, *, on_start: Callable[[int], None] | None = None) -> str:
    """Run a claimed analysis in a child process; returns its final status ("succeeded", "failed" or "lost").

    `on_start` is given the child's pid once it runs (logged; tests use it to kill the child)."""
    context = _get_context()
    receive, send = context.Pipe(duplex=False)  # the child's status, when it reports one
    lifeline, held = context.Pipe(duplex=False)  # we hold one end open while we live; the child watches the other
    config = get_settings().model_dump()
    process = context.Process(
        target=_child_main,
        args=(analysis_id, worker, config, send, lifeline, _required_setup()),
        name=f"analysis {analysis_id}",
        daemon=True,
    )
    try:
        await asyncio.to_thread(process.start)  # the first start launches the forkserver: not on the event loop
    finally:
        send.close()
        lifeline.close()
    assert process.pid is not None
    log.info("analysis %s runs in process %d", analysis_id, process.pid)
    if on_start is not None:
        on_start(process.pid)
    try:
        await _wait_for_exit(process.sentinel)
    except asyncio.CancelledError:
        process.kill()  # the lease runs out and another worker takes the job again
        process.join(5)
        raise
    finally:
        held.close()
    process.join()
    status: str | None = None
    if receive.poll():
        try:
            status = receive.recv()
        except (EOFError, OSError):
            status = None
    receive.close()
    if status is None:
        status = await asyncio.to_thread(_fail_dead_child, analysis_id, worker, process.exitcode)
    return status


async def _wait_for_exit(sentinel: int) -> None:
    loop = asyncio.get_running_loop()
    exited = loop.create_future()

    def ready() -> None:
        if not exited.done():
            exited.set_result(None)

    loop.add_reader(sentinel, ready)
    try:
        await exited
    finally:
        loop.remove_reader(sentinel)


def describe_exit(exitcode: int | None) -> str:
    if exitcode is None:
        return "it did not report how it ended"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (out of memory?)" if exitcode == -signal.SIGKILL else ""
        return f"it was killed by {name}{hint}"
    return f"it exited with status {exitcode}"


def _fail_dead_child(analysis_id: str, worker: str, exitcode: int | None) -> str:
    """The child ended without reporting: fail the job now (if it is still ours) rather than wait for its lease."""
    message = f"the analysis process ended unexpectedly: {describe_exit(exitcode)}"
    log.error("analysis %s: %s", analysis_id, message)
    with get_database().session() as session:
        analysis = session.get(Analysis, analysis_id)
        if analysis is None or analysis.status != AnalysisStatus.RUNNING or analysis.worker != worker:
            return "lost"  # it finished (or was taken over) before dying
        jobs.finish_failed(session, analysis, message)
    return "failed"


def _required_setup() -> Callable[[], None]:
    if _setup is None:
        raise RuntimeError("analysis children need the start-up wiring: call gitproductivity.startup.install() first")
    return _setup


def _child_main(
    analysis_id: str, worker: str, config: dict[str, Any], report: Any, lifeline: Any, setup: Callable[[], None]
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(lifeline,), name="parent-watch", daemon=True).start()
    settings = settings_module.configure(**config)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if settings.analysis_nice:
        os.nice(settings.analysis_nice)
    setup()
    status = runner.execute(analysis_id=analysis_id, worker=worker)
    report.send(status)
    report.close()


def _exit_with_parent(lifeline: multiprocessing.connection.Connection) -> None:
    """Leave at once when the process that started us is gone (its end of the lifeline closes: end of file).
    It can no longer act on our result, and the job it held must be taken again by another worker once its
    lease runs out, not finished by an orphan. (The forkserver, not the server, is our parent process, and it
    outlives the server while children run, so the parent pid tells nothing.)"""
    with contextlib.suppress(OSError):
        lifeline.poll(None)
    os._exit(70)
