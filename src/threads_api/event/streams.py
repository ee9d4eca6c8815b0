"""Open streams and long-polls: the per-key cap, ending them (revoked key, shutdown, 24 h),
and the two ways of waiting for events. Neither holds a database session while it waits:
each read is a short transaction of its own, between waits on the broker."""

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, TypeVar

from starlette.types import Scope

from threads_api.auth import repository as auth_repository
from threads_api.auth.watcher import RevocationWatcher
from threads_api.config import Settings
from threads_api.db import Database
from threads_api.event import sse
from threads_api.event.broker import READ_BATCH, Broker, Subscription
from threads_api.event.errors import EventsExpired, TooManyStreams
from threads_api.event.service import Filters
from threads_api.event.service import event as event_service
from threads_api.kit.load import request_load

logger = logging.getLogger("threads_api.event")

T = TypeVar("T")
# Why a stream ended, when the client should come back: said in its last event.
RESUMABLE = frozenset({"slow_subscriber", "shutdown", "max_lifetime", "events_expired"})
_RETRY_SECONDS = 0.5


class StreamRegistry:
    """This process's open streams and long-polls, by API key."""

    def __init__(self, db: Database, broker: Broker, settings: Settings) -> None:
        self._db = db
        self._broker = broker
        self._settings = settings
        self._open: dict[str, set[Subscription]] = {}
        self._server_watch: asyncio.Task[None] | None = None
        self._stopping = False

    def subscription(self, key_id: str, space_id: str, filters: Filters) -> Subscription:
        return Subscription(key_id, space_id, filters, self._settings.stream_buffer_bytes)

    def open(self, subscription: Subscription, scope: Scope) -> None:
        """Count it against its key (429 past the cap); ended with the others on shutdown."""
        mine = self._open.setdefault(subscription.key_id, set())
        if len(mine) >= self._settings.max_streams_per_key:
            raise TooManyStreams(self._settings.max_streams_per_key)
        mine.add(subscription)
        self._watch_server(scope)
        request_load.waiting(scope["state"])  # not work while it waits: kit/load.py
        if self._stopping:
            subscription.end("shutdown")

    def close(self, subscription: Subscription) -> None:
        self._broker.unsubscribe(subscription)
        mine = self._open.get(subscription.key_id)
        if mine is not None:
            mine.discard(subscription)
            if not mine:
                del self._open[subscription.key_id]

    def end_all(self, reason: str) -> None:
        self._stopping = self._stopping or reason == "shutdown"
        for mine in list(self._open.values()):
            for subscription in list(mine):
                subscription.end(reason)

    def _watch_server(self, scope: Scope) -> None:
        """Our server (server.py) sets `stopping` on SIGTERM: streams then end at once, each
        telling its client to resume elsewhere, so the shutdown stays within its bound."""
        if self._server_watch is not None:
            return
        stopping = scope.get("extensions", {}).get(sse.SERVER_EXTENSION, {}).get("stopping")
        if isinstance(stopping, asyncio.Event):

            async def watch() -> None:
                await stopping.wait()
                self.end_all("shutdown")

            self._server_watch = asyncio.create_task(
                watch(), name="stream shutdown", context=contextvars.Context()
            )

    async def stop(self) -> None:
        self.end_all("shutdown")
        if self._server_watch is not None:
            self._server_watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._server_watch

    async def tick_forever(self) -> None:
        """Wake the streams that are due a heartbeat or have reached their last moment;
        they do the rest. One timer for all of them."""
        heartbeat = self._settings.stream_heartbeat_seconds
        interval = min(heartbeat / 2, 1.0)
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval)
            now = loop.time()
            for mine in list(self._open.values()):
                for subscription in mine:
                    if now - subscription.idle_since >= heartbeat or now >= subscription.deadline:
                        subscription.ready.set()

    async def end_revoked_forever(self, watcher: RevocationWatcher) -> None:
        """End the streams of keys revoked here or elsewhere, as soon as the revocation
        watcher (auth/watcher.py) learns of them: within its 100 ms bound."""
        # The next change is asked for before the check runs: a revoke that lands while the
        # database is read wakes the loop again instead of waiting for the one after it.
        changed = watcher.next_change()
        while True:
            await changed.wait()
            changed = watcher.next_change()
            await self.end_revoked()

    async def end_revoked(self, key_ids: list[str] | None = None) -> None:
        """End the streams of those keys (default: every key with one open) that are revoked.
        Without `key_ids`, a failed read is tried again until it succeeds."""
        retry = key_ids is None
        keys = list(self._open) if key_ids is None else key_ids
        while keys:
            try:
                async with self._db.reader() as session, session.begin():
                    revoked = await auth_repository.revoked_among(session, keys)
            except Exception as error:
                if not retry:
                    raise
                logger.warning("streams: checking revocations failed (%s)", type(error).__name__)
                await asyncio.sleep(_RETRY_SECONDS)
                continue
            for key_id in revoked:
                for subscription in list(self._open.get(key_id, ())):
                    subscription.end("revoked")
            return

    async def wait_for(
        self,
        key_id: str,
        space_id: str,
        filters: Filters,
        scope: Scope,
        read: Callable[[], Awaitable[T]],
        found: Callable[[T], bool],
        seconds: float,
    ) -> T:
        """A long-poll: `read()` until `found(result)`, woken by the space's events that
        match `filters`, for at most `seconds`; the last result either way. It counts
        against the key's cap only while it waits."""
        result = await read()
        if found(result) or seconds <= 0:
            return result
        subscription = self.subscription(key_id, space_id, filters)
        self.open(subscription, scope)
        try:
            await self._broker.subscribe(subscription)
            result = await read()  # what committed before joining the feed
            deadline = asyncio.get_running_loop().time() + seconds
            while not found(result) and subscription.ended is None:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining):
                        await subscription.ready.wait()
                if subscription.take() or subscription.ended == "slow_subscriber":
                    result = await read()
            return result
        finally:
            self.close(subscription)


class EventStream:
    """One client's stream: the events after its position from the log, then live ones from
    the space's feed, with no gap and no duplicate."""

    def __init__(
        self,
        db: Database,
        broker: Broker,
        subscription: Subscription,
        settings: Settings,
        *,
        after: int,
    ) -> None:
        self._db = db
        self._broker = broker
        self.subscription = subscription
        self._settings = settings
        # Every event up to here that the stream wants has been sent.
        self.position = after

    def last_words(self) -> bytes:
        reason = self.subscription.ended
        return sse.reset(reason, self.position) if reason in RESUMABLE else b""

    async def body(self) -> AsyncGenerator[bytes, None]:
        subscription = self.subscription
        loop = asyncio.get_running_loop()
        subscription.deadline = loop.time() + self._settings.stream_max_seconds
        heartbeat = self._settings.stream_heartbeat_seconds
        yield sse.OPENING
        # The log, until a read finds nothing more; then join the feed and read once more:
        # what committed before joining is in that read, anything later the feed offers.
        joined = False
        while subscription.ended is None:
            read = await self._read()
            if read is None:
                yield sse.HEARTBEAT
                continue
            events, more, through = read
            for stored in events:
                yield sse.frame(stored)
                self.position = stored.position
            self.position = through
            if more:
                continue
            if joined:
                break
            await self._broker.subscribe(subscription)
            joined = True
        # Live: woken by the feed with events, or by the registry's tick (tick_forever).
        subscription.idle_since = loop.time()
        while subscription.ended is None:
            await subscription.ready.wait()
            frames = subscription.take()
            if loop.time() >= subscription.deadline:
                subscription.end("max_lifetime")
                break
            if not frames:
                if loop.time() - subscription.idle_since >= heartbeat:
                    yield sse.HEARTBEAT
                    subscription.idle_since = loop.time()
                continue
            for queued in frames:
                if queued.event.position > self.position:
                    yield queued.data
                    self.position = queued.event.position
            subscription.idle_since = loop.time()
        words = self.last_words()
        if words:
            yield words

    async def _read(self) -> tuple[list[Any], bool, int] | None:
        """The next page of the log after `position`, and how far it reached; None while
        the database cannot be read (the stream stays open and tries again)."""
        subscription = self.subscription
        try:
            async with self._db.reader() as session, session.begin():
                last_position, _ = await event_service.counter(session, subscription.space_id)
                events, more = await event_service.read_after(
                    session,
                    subscription.space_id,
                    self.position,
                    limit=READ_BATCH,
                    filters=subscription.filters,
                    through=last_position,
                )
                await event_service.check_retained(session, subscription.space_id, self.position)
        except EventsExpired:
            subscription.end("events_expired")
            return [], False, self.position
        except Exception as error:
            logger.warning("event stream: reading failed (%s)", type(error).__name__)
            await asyncio.sleep(_RETRY_SECONDS)
            return None
        through = events[-1].position if more else max(last_position, self.position)
        return events, more, through
