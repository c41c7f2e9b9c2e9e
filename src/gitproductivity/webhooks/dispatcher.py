"""The webhook dispatcher: claim due deliveries in batches, POST them concurrently, record outcomes in batches.

- Wakes on commit: in-process and across processes (PostgreSQL LISTEN/NOTIFY) through `core.channels.EVENTS`, and
  otherwise sleeps only until the next delivery falls due (capped by `POLL_SECONDS`, which covers other
  processes writing to a shared SQLite file).
- Database work runs on one thread (two on PostgreSQL: a claim and a batch of outcomes side by side). Outcomes
  pile up while a transaction runs, so batches grow with load: a few transactions per batch, not per delivery.
- A fixed pool of `webhook_concurrency` sender coroutines takes claimed jobs from one ready queue (no task per
  delivery); a job of an endpoint already at `webhook_endpoint_concurrency` POSTs is set aside until one of them
  ends, so it holds no sender meanwhile. An endpoint's rate limit is held across processes by `webhooks.pacing`,
  whose jobs wait here for their slot (a task each) before they join the queue, at its head; claims
  (`webhook_batch_size` at most) keep up to two batches ready beyond what is being sent.
- SIGTERM (the stop event): no new claims; POSTs in flight finish and are recorded; claimed deliveries that
  had not started are handed back at once. A worker killed outright loses nothing either: it is registered in
  `workers` (`core.workers`) and heartbeats, so the next worker to start or beat finds it gone and hands its
  deliveries back at once; failing that, its leases expire and any worker takes those deliveries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from typing import TypeVar

from sqlalchemy.orm import Session

from gitproductivity.core import channels, telemetry, tracing, workers
from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import Database, get_database
from gitproductivity.core.settings import Settings, get_settings
from gitproductivity.webhooks import client_certs, credentials, deliveries, outcomes, pacing, queue
from gitproductivity.webhooks.queue import Job, Result
from gitproductivity.webhooks.sender import HttpSender, Outcome, Sender

log = logging.getLogger(__name__)

T = TypeVar("T")

POLL_SECONDS = 2.0
#: A small batch of outcomes waits this long for company before it is written.
RECORD_GATHER_SECONDS = 0.005
PRUNE_EVERY_SECONDS = 3600.0
#: A rate-limited endpoint's POSTs from one process start at least this fraction of a slot apart.
SLOT_SPACING = 0.9
#: A rate-limited job whose slot passed by more than this many seconds is handed back rather than sent late.
LATE_AFTER = 0.1


def _span_attributes(job: Job) -> dict[str, str | int]:
    return {"webhook.delivery_id": job.delivery_id, "webhook.attempt": job.number, "event.type": job.event_type}


async def send_one(sender: Sender, job: Job) -> Result:
    """Sign and POST one delivery, presenting the endpoint's client certificate, if any. The attempt log keeps the
    headers sent, with credentials as `***`. Credentials that cannot be decrypted, or a client certificate that
    cannot be presented (expired), fail the attempt without sending."""
    headers = job.headers(int(time.time()))
    try:
        authorization = credentials.authorization(job.auth_type, job.auth_secret)
    except credentials.CredentialsUnreadable as exc:
        failed = Outcome(started_at=utcnow(), duration_ms=0.0, error_kind="credentials", error=str(exc))
        return Result(job=job, headers=headers, outcome=failed)
    try:
        tls = (
            client_certs.identity(job.client_cert_secret, job.client_cert_info)
            if job.url[:6].lower() == "https:"
            else None
        )
    except client_certs.ClientCertificateUnusable as exc:
        failed = Outcome(started_at=utcnow(), duration_ms=0.0, error_kind="client_certificate", error=str(exc))
        return Result(job=job, headers=headers, outcome=failed)
    sent = headers if authorization is None else {**headers, "Authorization": authorization}
    if tracing.enabled():
        with tracing.span("webhook.post", parent=job.trace, kind="CLIENT", attributes=_span_attributes(job)) as span:
            outcome = await sender.post(job.url, job.body, sent, tls=tls)
            tracing.describe_outcome(span, outcome.status_code, outcome.error_kind)
            job.trace = tracing.traceparent(span)
    else:  # no span context, no attributes: tracing off costs nothing per POST
        outcome = await sender.post(job.url, job.body, sent, tls=tls)
    telemetry.record_attempt(
        error_kind=outcome.error_kind,
        status_code=outcome.status_code,
        duration_ms=outcome.duration_ms,
        event_at=job.event_at,
        started_at=outcome.started_at,
    )
    shown = headers if authorization is None else {**headers, "Authorization": "***"}
    return Result(job=job, headers=shown, outcome=outcome)


class Dispatcher:
    def __init__(self, *, database: Database | None = None, settings: Settings | None = None) -> None:
        self.database = database or get_database()
        self.settings = settings or get_settings()
        # SQLite has one writer anyway; on PostgreSQL a claim and a batch of outcomes can be written at once.
        self.db_thread = ThreadPoolExecutor(
            max_workers=1 if self.database.is_sqlite else 2, thread_name_prefix="gitproductivity-dispatch-db"
        )
        self.inflight = 0  # claimed and not finished: queued, set aside, waiting for a slot or being sent
        self.capacity = asyncio.Event()
        self.results: list[Result] = []
        self.results_ready = asyncio.Event()
        self.ready: deque[Job] = deque()  # what the senders take next
        self.busy: dict[str, int] = {}  # POSTs in flight per endpoint
        self.held: dict[str, deque[Job]] = {}  # jobs of endpoints at their concurrency, in claim order
        self.idle: list[asyncio.Future[None]] = []  # senders waiting for a job
        self.paced: dict[str, float] = {}  # a rate-limited endpoint's last POST start here (time.monotonic())
        self.late: list[Job] = []  # rate-limited jobs that missed their slot, to hand back before the next claim
        self.unsent: list[Job] = []
        self.wake = asyncio.Event()
        self.me = workers.Registration(self.database, role="dispatcher")
        self.refill_at = 0
        # A POST starts only if it will end (or time out) this long before its lease does.
        self.lease_margin = min(1.0, (self.settings.webhook_lease_seconds - self.settings.webhook_timeout) / 2)

    async def _db(self, work: Callable[[Session], T]) -> T:
        def run() -> T:
            with self.database.session() as session:
                return work(session)

        return await asyncio.get_running_loop().run_in_executor(self.db_thread, run)

    async def run(self, stop: asyncio.Event) -> None:
        # Registering prunes dead workers first: what a killed predecessor held is due again before our first claim.
        await asyncio.to_thread(self.me.start)
        wake = self.wake = channels.EVENTS.subscribe()
        listener = asyncio.create_task(channels.EVENTS.listen(self.database, wake, stop, retry=POLL_SECONDS))
        sender: Sender = HttpSender(self.settings)
        pacing_tasks: set[asyncio.Task[None]] = set()  # rate-limited jobs waiting for their slots
        recorder = asyncio.create_task(self._record_loop(stop))
        concurrency = self.settings.webhook_concurrency
        senders = [asyncio.create_task(self._sender(sender, stop)) for _ in range(concurrency)]
        batch = self.settings.webhook_batch_size
        # Hold up to two batches beyond what is being sent, so POSTs never wait for a claim (which may queue
        # behind a batch of outcomes being written), and claim again once half a batch has room: claims stay
        # large, a few transactions per batch.
        max_held = concurrency + 2 * batch
        self.refill_at = max_held - max(1, batch // 2)
        next_prune = 0.0
        log.info("webhook dispatcher started (concurrency %d, batch %d)", concurrency, batch)
        try:
            while not stop.is_set():
                if time.monotonic() >= next_prune:
                    next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
                    await self._prune()
                if self.inflight > self.refill_at:  # enough in hand: wait for room for half a batch
                    self.capacity.clear()
                    await _wait_any(self.capacity, stop, timeout=None)
                    continue
                wake.clear()
                if self.late:
                    late, self.late = self.late, []
                    try:
                        await self._db(partial(queue.release, jobs=late))
                    except Exception as exc:  # their leases end anyway, and they fall due again
                        log.warning("could not hand back %d late deliveries (%s)", len(late), type(exc).__name__)
                want = min(batch, max_held - self.inflight)
                claim_started = time.time_ns()
                try:
                    jobs = await self._db(
                        partial(
                            pacing.claim,
                            limit=want,
                            lease_seconds=self.settings.webhook_lease_seconds,
                            worker_id=self.me.id,
                        )
                    )
                except Exception as exc:
                    # The database is away (restarting, say): nothing was claimed. Keep trying; never exit.
                    log.warning("could not claim deliveries (%s); trying again", type(exc).__name__)
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=POLL_SECONDS)
                    continue
                if tracing.enabled():
                    for job in jobs:
                        job.trace = tracing.past_span(
                            "webhook.claim", parent=job.trace, start_ns=claim_started, end_ns=time.time_ns()
                        )
                self.inflight += len(jobs)
                for job in jobs:
                    if job.not_before is None:
                        self.ready.append(job)
                    else:
                        task = asyncio.create_task(self._pace(job, stop))
                        pacing_tasks.add(task)
                        task.add_done_callback(pacing_tasks.discard)
                self._wake(len(jobs))
                if len(jobs) == want:
                    continue  # there may be more due right now
                due = await _or_none(self._db(pacing.next_due))
                timeout = POLL_SECONDS
                if due is not None:
                    timeout = max(0.0, min(POLL_SECONDS, (due - utcnow()).total_seconds()))
                if timeout > 0:
                    await _wait_any(wake, stop, timeout=timeout)
        finally:
            stop.set()
            if pacing_tasks:
                await asyncio.gather(*pacing_tasks, return_exceptions=True)
            self._wake(len(senders))  # each sender hands back what is left (`unsent`) and ends
            await asyncio.gather(*senders, return_exceptions=True)
            left = [*self.ready, *(job for waiting in self.held.values() for job in waiting)]
            self.ready.clear()
            self.held.clear()
            self.unsent += left
            self.inflight -= len(left)
            await recorder
            if self.unsent or self.late:
                await self._db(partial(queue.release, jobs=self.unsent + self.late))
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
            channels.EVENTS.unsubscribe(wake)
            await sender.close()
            self.db_thread.shutdown(wait=True)
            await asyncio.to_thread(self.me.stop)
            log.info("webhook dispatcher stopped")

    def _wake(self, count: int) -> None:
        """Wake up to `count` idle senders."""
        while count > 0 and self.idle:
            waiter = self.idle.pop()
            if not waiter.done():
                waiter.set_result(None)
                count -= 1

    def _next_job(self) -> Job | None:
        """The first ready job whose endpoint has room for one more POST; the others are set aside (`held`)."""
        limit = self.settings.webhook_endpoint_concurrency
        while self.ready:
            job = self.ready.popleft()
            busy = self.busy.get(job.webhook_id, 0)
            if busy >= limit:
                self.held.setdefault(job.webhook_id, deque()).append(job)
                continue
            self.busy[job.webhook_id] = busy + 1
            return job
        return None

    def _finished(self, job: Job | None = None) -> None:
        """A job is done (sent, handed back or left). For one a sender took (`job`), the next job set aside for
        its endpoint goes to the head of the queue, where that sender, about to look, takes it."""
        if job is not None:
            hook = job.webhook_id
            self.busy[hook] -= 1
            waiting = self.held.get(hook)
            if waiting:
                self.ready.appendleft(waiting.popleft())
                if not waiting:
                    del self.held[hook]
            elif not self.busy[hook]:
                del self.busy[hook]
        self.inflight -= 1
        if self.inflight <= self.refill_at:
            self.capacity.set()

    async def _sender(self, sender: Sender, stop: asyncio.Event) -> None:
        """One of the pool: take the next job, send it (or hand it back once stopping), until stopped and idle."""
        loop = asyncio.get_running_loop()
        while True:
            job = self._next_job()
            if job is None:
                if stop.is_set():
                    return
                waiter: asyncio.Future[None] = loop.create_future()
                self.idle.append(waiter)
                await waiter
                continue
            try:
                await self._deliver(sender, job, stop)
            except Exception:  # never lose the sender: the lease protects the delivery
                log.exception("delivery %s could not be sent; it will be retried after its lease", job.delivery_id)
            finally:
                self._finished(job)

    async def _pace(self, job: Job, stop: asyncio.Event) -> None:
        """A rate-limited endpoint's job waits for its slot, then goes to the head of the queue; one whose slot
        passed is handed back (at the next turn of the claiming loop) for a new one."""
        if await self._wait_for_slot(job, stop):
            self.ready.appendleft(job)
            self._wake(1)
            return
        self.late.append(job)
        self.wake.set()
        self._finished()

    async def _deliver(self, sender: Sender, job: Job, stop: asyncio.Event) -> None:
        if stop.is_set():
            self.unsent.append(job)
            return
        if time.monotonic() + self.settings.webhook_timeout + self.lease_margin > job.lease_until:
            # Waited so long for a slot that the lease could run out mid-POST and another worker take
            # the delivery: leave it; it falls due again when the lease ends.
            log.warning("delivery %s waited past its lease; it will be retried", job.delivery_id)
            return
        if not self.me.holds(job.worker_id) and not await self._still_held(job, stop):
            if stop.is_set():
                self.unsent.append(job)  # handed back at shutdown, if it is still ours
                return
            # This worker was presumed dead (its heartbeat stalled) and the delivery handed to others:
            # sending it here would only duplicate theirs.
            log.warning("delivery %s: this worker's claim lapsed with its heartbeat; left to others", job.delivery_id)
            return
        result = await send_one(sender, job)  # awaited first: the recorder swaps `self.results` meanwhile
        self.results.append(result)
        self.results_ready.set()

    async def _wait_for_slot(self, job: Job, stop: asyncio.Event) -> bool:
        """A rate-limited endpoint's job (webhooks.pacing) waits for its slot; False when the slot has passed by
        more than `LATE_AFTER` (a stalled event loop, a busy machine): sending it then could overlap the slots
        that other workers hold, so it is handed back instead and takes a new slot. This process's POSTs to the
        endpoint also start at least `SLOT_SPACING` of a slot apart."""
        assert job.not_before is not None
        while not stop.is_set():
            if (utcnow() - job.not_before).total_seconds() > LATE_AFTER:
                return False
            last = self.paced.get(job.webhook_id)
            spaced = 0.0 if last is None else last + job.slot_seconds * SLOT_SPACING - time.monotonic()
            wait = max((job.not_before - utcnow()).total_seconds(), spaced)
            if wait <= 0:
                break
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)
        self.paced[job.webhook_id] = time.monotonic()
        return True

    async def _still_held(self, job: Job, stop: asyncio.Event) -> bool:
        """Our last heartbeat is old (the database held it up): wait for the next one, as long as the lease
        allows a POST, and send only if it shows we still hold the claim."""
        while not self.me.lapsed(job.worker_id) and not stop.is_set():
            if self.me.holds(job.worker_id):
                return True
            if time.monotonic() + self.settings.webhook_timeout + self.lease_margin > job.lease_until:
                return False
            await asyncio.sleep(0.05)
        return False

    async def _record_loop(self, stop: asyncio.Event) -> None:
        while True:
            if not self.results:
                if stop.is_set() and self.inflight == 0:
                    return
                self.results_ready.clear()
                if stop.is_set():  # draining: the last POSTs are finishing
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self.results_ready.wait(), timeout=0.1)
                else:
                    await _wait_any(self.results_ready, stop, timeout=None)
                continue
            if len(self.results) < self.settings.webhook_batch_size // 2 and not stop.is_set():
                await asyncio.sleep(RECORD_GATHER_SECONDS)
            batch, self.results = self.results, []
            try:
                record_started = time.time_ns()
                await self._db(partial(outcomes.record, results=batch))
                for r in batch:
                    tracing.past_span(
                        "webhook.record", parent=r.job.trace, start_ns=record_started, end_ns=time.time_ns()
                    )
                if not all(r.outcome.ok for r in batch):
                    self.wake.set()  # a retry may fall due before the loop's current wait ends
            except Exception:
                # Leases protect the deliveries: they fall due again and are retried, never lost.
                log.exception("could not record %d delivery outcomes; they will be retried after the lease", len(batch))

    async def _prune(self) -> None:
        cutoff = utcnow() - timedelta(days=self.settings.webhook_attempt_retention_days)
        try:
            removed = await self._db(lambda s: deliveries.prune_attempts(s, older_than=cutoff))
        except Exception:
            log.exception("pruning old delivery attempts failed")
            return
        if removed:
            log.info("pruned %d delivery attempts older than %s", removed, cutoff.isoformat())


async def _or_none(work: Awaitable[T]) -> T | None:
    try:
        return await work
    except Exception as exc:
        log.warning("could not read when the next delivery is due (%s)", type(exc).__name__)
        return None


async def _wait_any(first: asyncio.Event, second: asyncio.Event, *, timeout: float | None) -> None:
    waits = [asyncio.ensure_future(first.wait()), asyncio.ensure_future(second.wait())]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


async def run(stop: asyncio.Event) -> None:
    """The worker component (`gitproductivity worker`, or inside `serve`)."""
    await Dispatcher().run(stop)
