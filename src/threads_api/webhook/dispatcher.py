"""The delivery engine: one in each server process, working from the event log (ADR 0010).

Each round it
1. fans out: per space, the events past the space's cursor become jobs, one per matching
   enabled webhook (an `INSERT … SELECT` per webhook), and the cursor moves past them, in
   one transaction (so exactly once; on PostgreSQL a process skips a cursor another holds,
   `FOR UPDATE SKIP LOCKED`);
2. claims due jobs with a lease (`lease_until`), at most `webhook_concurrency` in flight in
   this process and `webhook_concurrency_per_endpoint` per webhook, so a slow or dead
   endpoint holds only its own share;
3. sends each, signed afresh (signing.py), to a vetted address (address.py, sender.py);
4. records the outcomes, many per transaction: the deliveries log, and the job deleted
   (2xx), rescheduled with backoff, or given up. `410 Gone` and three days of failures
   disable the endpoint.

A process that dies mid-attempt leaves its lease to run out; then any process sends the job
again, with the same `webhook-id`. Leases outlast an attempt's timeout, so two processes
never send one attempt at once. Rounds run shortly after this process appends events (the
broker's commit hook; a burst is gathered into one round), when an attempt ends, and at
least every second: other processes' events are fanned out by them, or by the next round
here. While no webhook is enabled a round only reads that much, leaving the write lock to
requests. While requests keep the process busy, rounds start at most once a second: a
burst's deliveries trail it rather than slow it (ADR 0010).
"""

import asyncio
import contextlib
import contextvars
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from threads_api.config import Settings
from threads_api.db import Database
from threads_api.event.service import StoredEvent
from threads_api.kit.crypto import SecretBox
from threads_api.kit.load import request_load
from threads_api.kit.schemas import utcnow
from threads_api.models import Webhook
from threads_api.webhook import repository, sender
from threads_api.webhook.service import GONE_REASON, log_attempt, new_delivery, send_event

logger = logging.getLogger("threads_api.webhook")

# After the first attempt fails: 5 s, 30 s, 2 min, 10 min, 1 h, 2 h, 4 h, 8 h, 8 h, 8 h
# (31 h in all, each ±20 %), then it is given up.
BACKOFF = tuple(
    timedelta(seconds=s) for s in (5, 30, 120, 600, 3600, 7200, 14400, 28800, 28800, 28800)
)
JITTER = 0.2
FAILING_LIMIT = timedelta(days=3)
ROUND_SECONDS = 1.0  # at least this often: other processes' events, retries coming due
# While requests keep the process busy (kit/load.py), at most one round this often: each
# sends what one claim takes (CLAIM_AHEAD × the per-endpoint concurrency per endpoint), and
# the rest of a burst's deliveries wait until the requests leave room.
BUSY_ROUND_SECONDS = 1.0
# Appends wake a round this much later, so that a burst of writes is fanned out together.
APPEND_GATHER_SECONDS = 0.05
# With no webhook enabled, rounds only read that; cursors skip what was written this often.
IDLE_SKIP_EVERY = timedelta(seconds=60)
# A claim takes up to this many times a webhook's concurrency, sent that many at a time:
# one claim and a few record transactions per batch rather than per attempt or two.
CLAIM_AHEAD = 8
# Positions fanned out per transaction: a backlog does not hold the write lock for long.
FAN_OUT_BATCH = 5000
DELIVERIES_KEPT = timedelta(days=7)
_PURGE_EVERY = timedelta(minutes=10)


def next_retry_delay(attempts: int) -> timedelta | None:
    """The wait before the next attempt after `attempts` failed ones; None: give up."""
    if attempts > len(BACKOFF):
        return None
    return BACKOFF[attempts - 1] * random.uniform(1 - JITTER, 1 + JITTER)


@dataclass(slots=True)
class Attempt:
    job_id: int
    lease_until: datetime
    attempts: int  # made before this one
    webhook: Webhook
    event: StoredEvent
    outcome: sender.Outcome | None = None


class Dispatcher:
    def __init__(self, db: Database, settings: Settings, box: SecretBox) -> None:
        self._db = db
        self._settings = settings
        self._box = box
        # Tests move time on by replacing this; every schedule decision reads it.
        self.clock: Callable[[], datetime] = utcnow
        # Whether requests keep the process busy; tests replace it too.
        self.busy: Callable[[], bool] = request_load.busy
        self._wanted = asyncio.Event()
        self._in_flight: dict[str, int] = {}  # webhook id -> attempts claimed, not yet sent
        # At most `webhook_concurrency_per_endpoint` sends at once per webhook, and
        # `webhook_concurrency` in all; the rest of a claimed batch waits its turn.
        self._gates: dict[str, asyncio.Semaphore] = {}
        self._sends_at_once = asyncio.Semaphore(settings.webhook_concurrency)
        self._sending: set[asyncio.Task[None]] = set()
        self._finished: list[Attempt] = []
        self._recorder: asyncio.Task[None] | None = None
        self._stopping = False
        self._purged_at = self._skipped_at = datetime.min.replace(tzinfo=utcnow().tzinfo)
        self._gathering: asyncio.TimerHandle | None = None
        self._fan_out_wanted = False
        self._active = False  # any webhook enabled, as last read
        self._recheck = False  # a webhook changed here: read `_active` again

    @property
    def lease(self) -> timedelta:
        """Longer than a claimed batch can take to send (CLAIM_AHEAD attempts in a row, each
        bounded by the timeout), so a live process's attempt is never sent twice: one whose
        lease could run out before it ends is not sent at all (`_send`)."""
        return timedelta(seconds=self._settings.webhook_timeout_seconds * CLAIM_AHEAD + 5)

    def wake(self) -> None:
        """Send what is due (an attempt ended, or the clock moved on)."""
        self._wanted.set()

    def appended(self) -> None:
        """This process appended events (the broker's commit hook): fan them out soon."""
        if self._gathering is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # a connection handed back outside the loop (at exit): the poll catches up
        self._gathering = loop.call_later(APPEND_GATHER_SECONDS, self._gathered)

    def webhooks_changed(self) -> None:
        """A webhook was made or changed by this process: see soon (after its commit)
        whether any is enabled, rather than at the next full round."""
        self._recheck = True
        self.appended()

    def _gathered(self) -> None:
        self._gathering = None
        self._fan_out_wanted = True
        self._wanted.set()

    async def run(self) -> None:
        failing = False
        loop = asyncio.get_running_loop()
        next_full_round = round_started = loop.time()
        while True:
            # Not asyncio.wait_for: on Python 3.11 it swallows a cancellation that arrives as
            # the event is set (a finished attempt wakes us), and shutdown would wait forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, next_full_round - loop.time())):
                    await self._wanted.wait()
            if self.busy():
                # Requests first: a burst's deliveries may trail it (contract §15).
                await asyncio.sleep(max(0.0, round_started + BUSY_ROUND_SECONDS - loop.time()))
            self._wanted.clear()
            round_started = loop.time()
            full = round_started >= next_full_round
            if full:
                next_full_round = loop.time() + ROUND_SECONDS
            fan_out, self._fan_out_wanted = self._fan_out_wanted or full, False
            try:
                await self.round(fan_out=fan_out, full=full)
            except Exception as error:
                if not failing:
                    logger.warning("webhook dispatcher: %s; retrying", type(error).__name__)
                failing = True
            else:
                failing = False

    async def round(self, *, fan_out: bool = True, full: bool = True) -> None:
        """`full` (every second): everything, new spaces and the purges included;
        `fan_out` (after appends): new events into jobs, then sending; neither (an attempt
        ended): sending only, which is all that its freed room needs."""
        # While none is enabled, appends cost no read: a webhook enabled by another process
        # is seen by the next full round, and this process's own changes ask for a recheck.
        if fan_out and (full or self._active or self._recheck):
            self._recheck = False
            async with self._db.reader() as session, session.begin():
                self._active = await repository.any_enabled(session)
        if self._active:
            if fan_out:
                await self._fan_out(new_spaces=full)
            await self._send_due()
        elif full and self.clock() - self._skipped_at > IDLE_SKIP_EVERY:
            await self._skip_unwatched()
            self._skipped_at = self.clock()
        if full and self.clock() - self._purged_at > _PURGE_EVERY:
            async with self._db.writer() as session, session.begin():
                await repository.purge_deliveries(session, self.clock() - DELIVERIES_KEPT)
            self._purged_at = self.clock()

    async def stop(self) -> None:
        """Attempts in flight are abandoned: their leases run out and they are sent again.
        No new ones start, even if a round runs before the loop itself is cancelled."""
        self._stopping = True
        for task in [*self._sending, *([self._recorder] if self._recorder else [])]:
            task.cancel()
        for task in [*self._sending, *([self._recorder] if self._recorder else [])]:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- 1. events into jobs ------------------------------------------------------------

    async def _skip_unwatched(self) -> None:
        """No webhook is enabled: move the cursors past what was written, unread, so that
        the next webhook does not wade through it (it would take none of it: made before it).
        Read in this order (positions, then webhooks), a webhook made meanwhile misses
        only events that committed before it did."""
        async with self._db.writer() as session, session.begin():
            await repository.add_missing_cursors(session)
            behind = await repository.spaces_behind(session)
            if behind and not await repository.enabled_webhooks(session):
                for space_id, last_position in behind:
                    await repository.fast_forward(session, space_id, last_position)

    async def _fan_out(self, *, new_spaces: bool) -> None:
        """`new_spaces`: first give the spaces made since the last time a cursor (a write,
        so once a second, not after every append)."""
        if new_spaces:
            async with self._db.writer() as session, session.begin():
                await repository.add_missing_cursors(session)
        async with self._db.reader() as session, session.begin():
            behind = await repository.spaces_behind(session)
        for space_id, last_position in behind:
            while await self._fan_out_space(space_id, last_position):
                pass

    async def _fan_out_space(self, space_id: str, last_position: int) -> bool:
        """Jobs for the space's next events up to `last_position`, a position read before:
        every event up to it has committed (positions commit in order, ADR 0009). Whether
        there are more to do."""
        async with self._db.writer() as session, session.begin():
            cursor = await repository.lock_cursor(session, space_id)
            if cursor is None or cursor >= last_position:
                return False  # another process is at it, or was
            through = min(last_position, cursor + FAN_OUT_BATCH)
            # Read after `through`: a webhook that is not visible yet was enabled after those
            # events were made, and wants none of them.
            hooks = await repository.enabled_webhooks(session)
            now = self.clock()
            for hook in hooks:
                if hook.space_ids is None or space_id in hook.space_ids:
                    await repository.add_jobs(
                        session, hook, space_id, after=cursor, through=through, now=now
                    )
            await repository.move_cursor(session, space_id, through)
        return through < last_position

    # --- 2. and 3. claim and send ---------------------------------------------------------

    async def _send_due(self) -> None:
        free = self._settings.webhook_concurrency * CLAIM_AHEAD - len(self._sending)
        if free <= 0 or self._stopping:
            return
        per_endpoint = self._settings.webhook_concurrency_per_endpoint * CLAIM_AHEAD
        now = self.clock()
        lease_until = now + self.lease
        claimed: list[tuple[str, Any]] = []
        async with self._db.writer() as session, session.begin():
            for webhook_id in await repository.webhooks_with_due_jobs(session, now, limit=100):
                room = min(per_endpoint - self._in_flight.get(webhook_id, 0), free - len(claimed))
                if room > 0:
                    for job in await repository.claim(session, webhook_id, now, lease_until, room):
                        claimed.append((webhook_id, job))
            if not claimed:
                return
            hooks = {
                hook.id: hook
                for hook in await repository.webhooks_by_id(session, {w for w, _ in claimed})
            }
            found = await repository.events_at(
                session, [(job.space_id, job.position) for _, job in claimed]
            )
        stored = {(row.space_id, row.position): StoredEvent.of(row) for row in found}
        for webhook_id, job in claimed:
            event = stored.get((job.space_id, job.position))
            hook = hooks.get(webhook_id)
            if event is None or hook is None or not hook.enabled:
                continue  # its lease runs out; the next claim finds it settled or retries it
            attempt = Attempt(job.id, lease_until, job.attempts, hook, event)
            self._in_flight[webhook_id] = self._in_flight.get(webhook_id, 0) + 1
            task = asyncio.create_task(
                self._send(attempt), name="webhook attempt", context=contextvars.Context()
            )
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    def _gate(self, webhook_id: str) -> asyncio.Semaphore:
        gate = self._gates.get(webhook_id)
        if gate is None:
            gate = self._gates[webhook_id] = asyncio.Semaphore(
                self._settings.webhook_concurrency_per_endpoint
            )
        return gate

    async def _send(self, attempt: Attempt) -> None:
        hook = attempt.webhook
        timeout = timedelta(seconds=self._settings.webhook_timeout_seconds)
        try:
            # Its webhook's turn first: waiting for it must not hold a slot others could use.
            async with self._gate(hook.id), self._sends_at_once:
                if self.clock() + timeout >= attempt.lease_until:
                    return  # its lease could run out mid-attempt: left to whoever takes it
                attempt.outcome = await send_event(
                    self._box, self._settings, hook.url, hook.secrets, attempt.event, self.clock()
                )
            log_attempt(hook.id, hook.url, attempt.event.id, attempt.attempts + 1, attempt.outcome)
            self._finished.append(attempt)
            if self._recorder is None or self._recorder.done():
                self._recorder = asyncio.create_task(
                    self._record(), name="webhook outcomes", context=contextvars.Context()
                )
        finally:
            left = self._in_flight[hook.id] = self._in_flight[hook.id] - 1
            if not left:
                del self._in_flight[hook.id]
                self._gates.pop(hook.id, None)
            if left <= self._settings.webhook_concurrency_per_endpoint:
                self.wake()  # its batch is nearly sent: claim the next

    # --- 4. outcomes ----------------------------------------------------------------------

    async def _record(self) -> None:
        """Write every finished attempt's outcome, as many per transaction as have finished
        meanwhile. A failure leaves them to their leases: they are sent again."""
        while self._finished:
            batch, self._finished = self._finished, []
            try:
                await self._record_batch(batch)
            except Exception as error:
                logger.warning(
                    "webhook dispatcher: recording %d outcomes failed (%s); they will be sent "
                    "again",
                    len(batch),
                    type(error).__name__,
                )

    async def _record_batch(self, batch: Sequence[Attempt]) -> None:
        now = self.clock()
        log: list[dict[str, object]] = []
        async with self._db.writer() as session, session.begin():
            # A webhook deleted meanwhile took its jobs and log with it: nothing to record.
            existing = await repository.lock(session, {a.webhook.id for a in batch})
            batch = [a for a in batch if a.webhook.id in existing]
            succeeded = [a for a in batch if a.outcome is not None and a.outcome.succeeded]
            # Successes, the common case, in a statement per claim and per webhook.
            for lease_until in {a.lease_until for a in succeeded}:
                claimed = [a.job_id for a in succeeded if a.lease_until == lease_until]
                await repository.finish_jobs(session, claimed, lease_until)
            for hook_id in {a.webhook.id for a in succeeded if a.webhook.failing_since}:
                await repository.mark_succeeding(session, hook_id)
            for attempt in batch:
                assert attempt.outcome is not None
                outcome, hook_id = attempt.outcome, attempt.webhook.id
                made = attempt.attempts + 1
                next_retry_at = None
                if outcome.succeeded:
                    pass  # settled above
                elif outcome.status_code == 410:
                    await repository.disable(session, hook_id, GONE_REASON, now)
                else:
                    next_retry_at = await self._failed(session, attempt, made, now)
                log.append(
                    new_delivery(hook_id, attempt.event, made, outcome, next_retry_at=next_retry_at)
                )
            await repository.add_deliveries(session, log)

    async def _failed(
        self, session: Any, attempt: Attempt, made: int, now: datetime
    ) -> datetime | None:
        """Schedule the next attempt, or give up; disable an endpoint failing for 3 days.
        When the next attempt is due, or None."""
        hook_id = attempt.webhook.id
        failing_since = await repository.mark_failing(session, hook_id, now)
        if failing_since is not None and now - failing_since >= FAILING_LIMIT:
            reason = f"every delivery failed for 3 days (since {failing_since:%Y-%m-%d %H:%M} UTC)"
            await repository.disable(session, hook_id, reason, now)
            return None
        delay = next_retry_delay(made)
        if delay is None:
            await repository.finish_jobs(session, [attempt.job_id], attempt.lease_until)
            return None
        due = now + delay
        if await repository.reschedule_job(session, attempt.job_id, attempt.lease_until, made, due):
            return due
        return None  # the lease ran out and another process took the job
