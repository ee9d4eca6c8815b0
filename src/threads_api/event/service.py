"""Events (contract §14, ADR 0009): appended by the domain services in the transaction of
the change they record, read back after a position, scrubbed by erasure, purged with age.

Nothing here knows about streams; `broker.py` and `endpoints.py` build them on top.
"""

import asyncio
import json
import logging
import random
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from threads_api.db import Database
from threads_api.errors import Unauthorized
from threads_api.event import repository
from threads_api.event.errors import EventsExpired
from threads_api.event.repository import AnyRow
from threads_api.event.schemas import Event, EventType, StreamToken
from threads_api.kit.crypto import hash_secret
from threads_api.kit.ids import new_id
from threads_api.kit.schemas import format_timestamp, utcnow

logger = logging.getLogger("threads_api.event")

# Where an append leaves "space id -> position" on the database connection's info, for the
# broker to wake this process's subscribers once the connection is handed back after the
# commit (broker.py). A rolled-back append wakes them for nothing, which is harmless.
APPENDED = "threads_api.appended_events"
# Where a session keeps the events of its transaction until the commit writes them.
PENDING = "threads_api.pending_events"
STREAM_TOKEN_PREFIX = "st_"
STREAM_TOKEN_TTL = timedelta(seconds=60)
_PURGE_BATCH = 1000


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as read from the log: what the list renders and the stream sends."""

    id: str
    type: str
    space_id: str
    thread_id: str
    position: int
    created_at: datetime
    data: str  # JSON text

    @classmethod
    def of(cls, row: AnyRow) -> "StoredEvent":
        return cls(
            row.id, row.type, row.space_id, row.thread_id, row.position, row.created_at, row.data
        )

    def to_json(self) -> str:
        """The event object, as the list shows it; ids and types need no escaping, and the
        data is stored as JSON already."""
        return (
            f'{{"id":"{self.id}","object":"event","type":"{self.type}",'
            f'"space_id":"{self.space_id}","thread_id":"{self.thread_id}",'
            f'"position":{self.position},"created_at":"{format_timestamp(self.created_at)}",'
            f'"data":{self.data}}}'
        )

    def to_schema(self) -> Event:
        return Event.model_validate(
            {
                "id": self.id,
                "type": self.type,
                "space_id": self.space_id,
                "thread_id": self.thread_id,
                "position": self.position,
                "created_at": self.created_at,
                "data": json.loads(self.data),
            }
        )


@dataclass(frozen=True, slots=True)
class Filters:
    """What a reader wants of a space's events: one thread, some types, or everything."""

    thread_id: str | None = None
    types: frozenset[str] | None = None

    def match(self, event: StoredEvent) -> bool:
        return (self.thread_id is None or event.thread_id == self.thread_id) and (
            self.types is None or event.type in self.types
        )


class EventService:
    async def append(
        self,
        session: AsyncSession,
        type: EventType,
        data: BaseModel,
        *,
        space_id: str,
        thread_id: str,
        message_id: str | None = None,
    ) -> None:
        """Record that `data` (a thread or message, as it is after the change) changed, in
        the session's transaction. The event is written as the transaction commits: taking
        its position locks the space's counter until the commit (ADR 0009), so it is taken
        as late as can be, not while the rest of the request runs."""
        pending = session.info.setdefault(PENDING, [])
        pending.append(
            {
                "id": new_id("evt"),
                "space_id": space_id,
                "type": type,
                "thread_id": thread_id,
                "message_id": message_id if type.startswith("message.") else None,
                "created_at": utcnow(),
                "data": data.model_dump_json(),
            }
        )

    async def erase_message(
        self,
        session: AsyncSession,
        thread_id: str,
        tombstone: BaseModel,
        *,
        message_id: str,
        erased_titles: Collection[str],
        title_after: str,
    ) -> None:
        """No copy of an erased message's content stays in the log (contract §13): its
        events keep position, type and ids, and their data becomes the tombstone; the
        thread's events lose its preview, and a title made from its content becomes
        `title_after`."""
        await repository.set_message_data(session, message_id, tombstone.model_dump_json())
        for row in await repository.thread_changes(session, thread_id):
            scrubbed = _scrubbed_thread(row.data, message_id, erased_titles, title_after)
            if scrubbed is not None:
                await repository.set_data(session, row.space_id, row.position, scrubbed)

    async def counter(self, session: AsyncSession, space_id: str) -> tuple[int, int]:
        """(the newest position in the space, the purge watermark)."""
        return await repository.counter(session, space_id)

    async def read_after(
        self,
        session: AsyncSession,
        space_id: str,
        after: int,
        *,
        limit: int,
        filters: Filters = Filters(),
        through: int | None = None,
    ) -> tuple[list[StoredEvent], bool]:
        """Events after `after` (and up to `through`), oldest first; whether more follow."""
        rows = await repository.page(
            session,
            space_id,
            after=after,
            through=through,
            thread_id=filters.thread_id,
            types=filters.types,
            limit=limit,
        )
        return [StoredEvent.of(row) for row in rows[:limit]], len(rows) > limit

    async def page(
        self,
        session: AsyncSession,
        space_id: str,
        *,
        after: int | None,
        filters: Filters,
        limit: int,
    ) -> tuple[list[Event], bool, int]:
        """A page of the list: events, whether more follow, and the newest position.

        The newest position is read first and bounds the page: an event that commits while
        the page is read has a greater position, so `after=last_position` misses nothing.
        With `after`, the watermark is read again after the page, so a purge that ran
        meanwhile cannot make the page skip what it deleted. Without, the page starts at
        the oldest event still there, whenever it was read."""
        last_position, purged = await repository.counter(session, space_id)
        if after is not None and after < purged:
            raise EventsExpired(purged)
        found, has_more = await self.read_after(
            session,
            space_id,
            purged if after is None else after,
            limit=limit,
            filters=filters,
            through=last_position,
        )
        if after is not None:
            await self.check_retained(session, space_id, after)
        return [event.to_schema() for event in found], has_more, last_position

    async def check_retained(self, session: AsyncSession, space_id: str, after: int) -> None:
        """Raise EventsExpired if events after `after` may have been purged."""
        _, purged = await repository.counter(session, space_id)
        if after < purged:
            raise EventsExpired(purged)

    # --- stream tokens --------------------------------------------------------------------

    async def create_stream_token(
        self, session: AsyncSession, api_key_id: str, space_id: str
    ) -> StreamToken:
        """A token that opens one stream of `space_id` as `api_key_id`, read-only, within
        60 s. Only its hash is stored."""
        token = STREAM_TOKEN_PREFIX + secrets.token_urlsafe(32)
        expires_at = utcnow() + STREAM_TOKEN_TTL
        await repository.add_token(session, hash_secret(token), api_key_id, space_id, expires_at)
        return StreamToken(token=token, expires_at=expires_at)

    async def redeem_stream_token(self, db: Database, token: str) -> tuple[str, str]:
        """(api_key_id, space_id) of a valid token, which is used up; 401 otherwise."""
        if not token.startswith(STREAM_TOKEN_PREFIX) or len(token) > 100:
            raise Unauthorized("The stream token is unknown, used or expired.")
        async with db.writer() as session, session.begin():
            row = await repository.take_token(session, hash_secret(token))
        if row is None or row.expires_at <= utcnow():
            raise Unauthorized("The stream token is unknown, used or expired.")
        return row.api_key_id, row.space_id

    # --- retention ------------------------------------------------------------------------

    async def purge(self, db: Database, retention: timedelta) -> int:
        """Delete events older than `retention`, space by space from the oldest, in short
        transactions, raising each space's watermark; then expired stream tokens. Events
        that webhooks are still owed stay, with every event after them. Counts
        the events deleted. A space's events are purged by position up to the first one
        that is still young, so the watermark is exact."""
        cutoff = utcnow() - retention
        async with db.reader() as session, session.begin():
            spaces = await repository.spaces_with_events(session)
        purged = 0
        for space_id in spaces:
            while True:
                async with db.writer() as session, session.begin():
                    rows = await repository.oldest(session, space_id, _PURGE_BATCH)
                    owed = await repository.oldest_owed(session, space_id)
                    expired = _expired_prefix(rows, cutoff, owed)
                    if expired:
                        await repository.purge_through(session, space_id, expired[-1])
                purged += len(expired)
                if len(expired) < _PURGE_BATCH:
                    break
        async with db.writer() as session, session.begin():
            await repository.purge_tokens(session, utcnow())
        return purged


def _write_pending(session: Session) -> None:
    """`before_commit`: write the transaction's events, last. Runs inside SQLAlchemy's
    greenlet, where the synchronous API awaits the driver."""
    pending = session.info.pop(PENDING, None)
    if not pending:
        return
    appended = session.connection().info.setdefault(APPENDED, {})
    for values in pending:
        appended[values["space_id"]] = repository.append(session, values)


def _forget_pending(session: Session) -> None:
    session.info.pop(PENDING, None)


# Listened to on the class, once: listening per session cost more than the append's own SQL.
# Sessions with no pending events pass through both at the price of a dict lookup.
sa_event.listen(Session, "before_commit", _write_pending)
sa_event.listen(Session, "after_rollback", _forget_pending)


def _expired_prefix(rows: Sequence[AnyRow], cutoff: datetime, owed: int | None) -> list[int]:
    """The positions to purge: older than `cutoff`, and before the first event a webhook is
    still owed (a retry of a purged one would have nothing to send)."""
    positions = []
    for row in rows:
        if row.created_at >= cutoff or (owed is not None and row.position >= owed):
            break
        positions.append(int(row.position))
    return positions


def _scrubbed_thread(
    data: str, message_id: str, erased_titles: Collection[str], title_after: str
) -> str | None:
    """A thread event's data without the erased message's preview or a title made from its
    content; None when it holds neither."""
    thread = json.loads(data)
    changed = False
    last = thread.get("last_message")
    if isinstance(last, dict) and last.get("id") == message_id:
        thread["last_message"] = None
        changed = True
    if thread.get("title") in erased_titles:
        thread["title"] = title_after
        changed = True
    if not changed:
        return None
    return json.dumps(thread, ensure_ascii=False, separators=(",", ":"))


event = EventService()


async def purge_forever(db: Database, retention_days: float) -> None:
    """Purge old events now and then (no cron job needed): every quarter of the retention
    period, at most every 10 minutes, with jitter so that processes spread out."""
    retention = timedelta(days=retention_days)
    interval = min(max(retention.total_seconds() / 4, 0.05), 600.0)
    while True:
        await asyncio.sleep(interval * random.uniform(0.5, 1.0))
        try:
            purged = await event.purge(db, retention)
            if purged:
                logger.info("purged %d events older than %s", purged, retention)
        except Exception:
            logger.warning("purging events failed; will retry", exc_info=True)
