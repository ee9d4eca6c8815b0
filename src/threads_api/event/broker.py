"""Wake-ups: who waits for a space's events in this process, and how they learn of new ones.

One `SpaceFeed` per space that has subscribers here reads the space's new events once per
wake-up, in a short transaction, encodes each event once, and offers it to every
subscriber's bounded queue. A subscriber whose queue overflows is ended ("slow_subscriber"):
it never holds up the feed, the writers or the other subscribers. Wake-ups come from:

- this process's commits: an append leaves the space and position on its database
  connection (`service.APPENDED`); the connection's return to the pool, after the commit,
  wakes the space's feed (a rolled-back append wakes it for nothing, harmlessly); the plain
  write path (writes.py) tells it of each commit that appended (`on_commit`);
- PostgreSQL: one dedicated asyncpg connection per process LISTENs; every append NOTIFYs at
  commit. Notifications sent while that connection is down are lost, so every feed reads
  again from its position each time it (re)connects;
- SQLite: while anyone subscribes, `PRAGMA data_version` is polled every
  `sqlite_change_poll_ms` for commits made by other processes on the same file.

A feed reads "after the last position it read": positions commit in order (ADR 0009), so
it never misses an event, and a wake-up that comes too often only costs an empty read.
"""

import asyncio
import collections
import contextlib
import contextvars
import functools
import logging
import math
from collections.abc import Callable
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no stubs; used for LISTEN only
from sqlalchemy import event as sa_event
from sqlalchemy.engine import make_url

from threads_api.config import Settings
from threads_api.db import Database
from threads_api.event import sse
from threads_api.event.repository import CHANNEL
from threads_api.event.service import APPENDED, Filters, StoredEvent
from threads_api.event.service import event as event_service

logger = logging.getLogger("threads_api.event")

READ_BATCH = 500
_RETRY_SECONDS = 0.5
_KEEPALIVE_SECONDS = 10.0


class Frame:
    """An event as read by a feed, with its SSE encoding: made once, shared by everyone."""

    __slots__ = ("data", "event")

    def __init__(self, event: StoredEvent) -> None:
        self.event = event
        self.data = sse.frame(event)


class Subscription:
    """One stream or long-poll: what it wants, and the events waiting for it."""

    __slots__ = (
        "_limit",
        "_queue",
        "_queued",
        "deadline",
        "ended",
        "filters",
        "idle_since",
        "key_id",
        "on_end",
        "ready",
        "space_id",
    )

    def __init__(self, key_id: str, space_id: str, filters: Filters, buffer_bytes: int) -> None:
        self.key_id = key_id
        self.space_id = space_id
        self.filters = filters
        self._queue: collections.deque[Frame] = collections.deque()
        self._queued = 0
        self._limit = buffer_bytes
        self.ready = asyncio.Event()  # set when an event waits, or the subscription ended
        self.ended: str | None = None  # why it must end: slow_subscriber, revoked, shutdown…
        self.on_end: Callable[[], None] | None = None
        # For streams (loop time): when it last sent something, and when it must end. The
        # registry wakes it when either says so (streams.py), so that no stream keeps a
        # timer of its own: one timer per wait, per subscriber, per event is a lot of timers.
        self.idle_since = math.inf
        self.deadline = math.inf

    def offer(self, frame: Frame) -> None:
        if self.ended is not None or not self.filters.match(frame.event):
            return
        if self._queued + len(frame.data) > self._limit:
            self.end("slow_subscriber")
            return
        self._queue.append(frame)
        self._queued += len(frame.data)
        self.ready.set()

    def take(self) -> list[Frame]:
        """Every waiting event, oldest first."""
        frames = list(self._queue)
        self._queue.clear()
        self._queued = 0
        if self.ended is None:
            self.ready.clear()
        return frames

    def end(self, reason: str) -> None:
        if self.ended is None:
            self.ended = reason
            self._queue.clear()
            self._queued = 0
            self.ready.set()
            if self.on_end is not None:
                self.on_end()


class SpaceFeed:
    """The one reader of a space's new events in this process."""

    def __init__(self, db: Database, space_id: str, position: int) -> None:
        self._db = db
        self.space_id = space_id
        self.position = position  # every event up to here has been offered
        self.subscribers: set[Subscription] = set()
        self._wanted = asyncio.Event()
        # A context of its own: not the request id of whoever happened to start it.
        self._task = asyncio.create_task(
            self._run(), name=f"event feed {space_id}", context=contextvars.Context()
        )

    def wake(self, position: int | None = None) -> None:
        if position is None or position > self.position:
            self._wanted.set()

    def stop(self) -> None:
        self._task.cancel()

    async def _run(self) -> None:
        failing = False
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            if not self.subscribers:
                return
            try:
                await self._read()
            except Exception as error:
                if not failing:
                    logger.warning(
                        "event feed %s: reading failed (%s); retrying",
                        self.space_id,
                        type(error).__name__,
                    )
                failing = True
                await asyncio.sleep(_RETRY_SECONDS)
                self._wanted.set()
            else:
                failing = False

    async def _read(self) -> None:
        more = True
        while more:
            async with self._db.reader() as session, session.begin():
                found, more = await event_service.read_after(
                    session, self.space_id, self.position, limit=READ_BATCH
                )
            for stored in found:
                frame = Frame(stored)
                # No await between offering and moving on: whoever joins sees either this
                # event from the feed, or `position` already past it.
                for subscriber in list(self.subscribers):
                    subscriber.offer(frame)
                self.position = stored.position


class Broker:
    """This process's feeds, and the wake-ups that drive them."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._settings = settings
        self._feeds: dict[str, SpaceFeed] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._joining: dict[str, asyncio.Lock] = {}
        self._append_listeners: list[Callable[[], None]] = []
        sa_event.listen(db.write_engine.sync_engine, "checkin", self._on_checkin)
        db.writes.on_commit.append(self._appended)

    async def stop(self) -> None:
        sa_event.remove(self._db.write_engine.sync_engine, "checkin", self._on_checkin)
        self._db.writes.on_commit.remove(self._appended)
        tasks: list[asyncio.Task[None]] = [feed._task for feed in self._feeds.values()]
        for feed in self._feeds.values():
            feed.stop()
        self._feeds.clear()
        if self._watcher is not None:
            self._watcher.cancel()
            tasks.append(self._watcher)
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def subscribers(self) -> int:
        return sum(len(feed.subscribers) for feed in self._feeds.values())

    async def subscribe(self, subscription: Subscription) -> int:
        """Join the space's feed; the position after which the feed offers it every event.
        Whatever committed up to that position is in the log for the subscriber to read."""
        space_id = subscription.space_id
        feed = self._feeds.get(space_id)
        if feed is None:
            lock = self._joining.setdefault(space_id, asyncio.Lock())
            async with lock:
                feed = self._feeds.get(space_id)
                if feed is None:
                    async with self._db.reader() as session, session.begin():
                        last_position, _ = await event_service.counter(session, space_id)
                    feed = SpaceFeed(self._db, space_id, last_position)
                    self._feeds[space_id] = feed
            self._joining.pop(space_id, None)
            self._watch()
        feed.subscribers.add(subscription)
        return feed.position

    def unsubscribe(self, subscription: Subscription) -> None:
        feed = self._feeds.get(subscription.space_id)
        if feed is None:
            return
        feed.subscribers.discard(subscription)
        if not feed.subscribers:
            del self._feeds[subscription.space_id]
            feed.wake()  # lets its task see it has no one left, and end

    def wake(self, space_id: str, position: int | None = None) -> None:
        feed = self._feeds.get(space_id)
        if feed is not None:
            feed.wake(position)

    def wake_all(self) -> None:
        for feed in self._feeds.values():
            feed.wake()

    def on_append(self, listener: Callable[[], None]) -> None:
        """Call `listener` whenever this process has appended events (after the commit)."""
        self._append_listeners.append(listener)

    def _on_checkin(self, _dbapi_connection: Any, record: Any) -> None:
        appended = record.info.pop(APPENDED, None)
        if appended:
            self._appended(appended)

    def _appended(self, appended: dict[str, int]) -> None:
        """This process committed events: "space id -> newest position"."""
        for listener in self._append_listeners:
            listener()
        for space_id, position in appended.items():
            self.wake(space_id, position)

    # --- other processes ------------------------------------------------------------------

    def _watch(self) -> None:
        if self._watcher is None or self._watcher.done():
            watch = self._listen if self._db.dialect == "postgresql" else self._poll_sqlite
            self._watcher = asyncio.create_task(
                watch(), name="event wake-ups", context=contextvars.Context()
            )

    async def _poll_sqlite(self) -> None:
        """Other processes' commits, by `PRAGMA data_version`: it changes on this connection
        whenever another connection commits. Runs while anyone subscribes."""
        interval = self._settings.sqlite_change_poll_ms / 1000
        seen = None
        while self._feeds:
            try:
                async with self._db.watch_engine.connect() as connection:
                    version = (await connection.exec_driver_sql("PRAGMA data_version")).scalar()
            except Exception as error:
                logger.warning("event wake-ups: polling SQLite failed (%s)", type(error).__name__)
                seen = None
                self.wake_all()  # the feeds retry their reads; nothing is lost meanwhile
            else:
                if seen is not None and version != seen:
                    self.wake_all()
                seen = version
            await asyncio.sleep(interval)

    async def _listen(self) -> None:
        """PostgreSQL LISTEN on a dedicated connection; reconnects for as long as it runs."""
        url = make_url(self._settings.database_url).set(drivername="postgresql")
        dsn = url.render_as_string(hide_password=False)
        timeout = self._settings.database_timeout_seconds
        failing = False
        while True:
            connection: asyncpg.Connection | None = None
            try:
                connection = await asyncpg.connect(dsn, timeout=timeout)
                lost = asyncio.Event()
                connection.add_termination_listener(functools.partial(_set, lost))
                await connection.add_listener(CHANNEL, self._notified)
                if failing:
                    logger.info("event wake-ups: listening again")
                failing = False
                self.wake_all()  # whatever committed while nobody listened
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), _KEEPALIVE_SECONDS)
                    if not lost.is_set():
                        # A connection whose server vanished silently fails here.
                        await connection.execute("SELECT 1", timeout=timeout)
            except Exception as error:
                if not failing:
                    logger.warning(
                        "event wake-ups: LISTEN connection lost (%s); reconnecting",
                        type(error).__name__,
                    )
                failing = True
            finally:
                if connection is not None:
                    connection.terminate()
            if not failing:
                logger.warning("event wake-ups: LISTEN connection closed; reconnecting")
                failing = True
            self.wake_all()  # the feeds' reads fail until the database is back, then catch up
            await asyncio.sleep(_RETRY_SECONDS)

    def _notified(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        space_id, _, position = payload.partition(":")
        if position.isdigit():
            self.wake(space_id, int(position))


def _set(event: asyncio.Event, *_: Any) -> None:
    event.set()
