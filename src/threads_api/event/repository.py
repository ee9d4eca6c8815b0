"""All SQL about events, their per-space counters and stream tokens."""

import functools
import re
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, String, Table, bindparam, delete, func, insert, literal, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from threads_api.kit.ids import new_id
from threads_api.kit.pagination import keyset_page
from threads_api.models import Event, EventCounter, StreamToken, WebhookCursor, WebhookJob
from threads_api.models.base import UTCDateTime
from threads_api.reads import Statement, Step, Unit

events = cast(Table, Event.__table__)
counters = cast(Table, EventCounter.__table__)
tokens = cast(Table, StreamToken.__table__)
# What webhooks are still owed: the purge keeps those events (contract §15), and those
# the dispatcher has not yet made jobs of (past a space's cursor).
jobs = cast(Table, WebhookJob.__table__)
webhook_cursors = cast(Table, WebhookCursor.__table__)
# A row of any shape, as SQLAlchemy types them.
AnyRow = Row[*tuple[Any, ...]]

# PostgreSQL: each append notifies this channel with "<space_id>:<position>" (event/broker.py).
CHANNEL = "threads_api_events"
_COLUMNS = ("id", "space_id", "position", "type", "thread_id", "message_id", "created_at", "data")


def _event_values(position: Any) -> Any:
    """The columns of a new event, from bound parameters, with `position` as given."""
    return select(
        bindparam("id", type_=String),
        bindparam("space_id", type_=String),
        position,
        bindparam("type", type_=String),
        bindparam("thread_id", type_=String),
        bindparam("message_id", type_=String),
        bindparam("created_at", type_=UTCDateTime()),
        bindparam("data", type_=String),
    )


def _postgres_append() -> Any:
    """One round trip: take the space's next position, insert the event, NOTIFY (delivered
    at commit). Taking the position locks the space's counter row until the transaction
    ends, so a space's positions commit in the order they were taken (ADR 0009)."""
    bumped = (
        postgresql.insert(counters)
        .values(space_id=bindparam("space_id"), last_position=1, purged_through=0)
        .on_conflict_do_update(
            index_elements=[counters.c.space_id],
            set_={"last_position": counters.c.last_position + 1},
        )
        .returning(counters.c.last_position)
        .cte("bumped")
    )
    added = (
        insert(events)
        .from_select(list(_COLUMNS), _event_values(bumped.c.last_position))
        .returning(events.c.position)
        .cte("added")
    )
    position = sql_cast(added.c.position, String)
    payload = bindparam("space_id", type_=String) + literal(":") + position
    return select(added.c.position, func.pg_notify(CHANNEL, payload))


def _sqlite_append() -> Any:
    """One statement (each costs a trip to aiosqlite's thread): the event, at the counter's
    next position; a trigger of the migration (0004) moves the counter on. The writer holds
    the database's one write lock (BEGIN IMMEDIATE) already, so writes are in order."""
    last = select(counters.c.last_position).where(counters.c.space_id == bindparam("space_id"))
    position = func.coalesce(last.scalar_subquery(), 0) + 1
    return (
        insert(events)
        .from_select(list(_COLUMNS), _event_values(position))
        .returning(events.c.position)
    )


_APPEND = {"postgresql": _postgres_append(), "sqlite": _sqlite_append()}


# The same as a unit's statement (writes.py), arguments (space_id, id, type, thread_id,
# message_id, created_at as the API writes it, data).
_APPEND_PLAIN = Statement(
    sqlite="INSERT INTO events (space_id, id, position, type, thread_id, message_id,"
    " created_at, data) SELECT ?1, ?2,"
    " coalesce((SELECT last_position FROM event_counters WHERE space_id = ?1), 0) + 1,"
    " ?3, ?4, ?5, replace(rtrim(?6, 'Z'), 'T', ' '), ?7 RETURNING position",
    postgres="WITH bumped AS ("
    " INSERT INTO event_counters (space_id, last_position, purged_through)"
    " VALUES ($1::text, 1, 0) ON CONFLICT (space_id)"
    " DO UPDATE SET last_position = event_counters.last_position + 1"
    " RETURNING last_position),"
    " added AS (INSERT INTO events (space_id, id, position, type, thread_id, message_id,"
    " created_at, data) SELECT $1::text, $2::text, last_position, $3::text, $4::text,"
    " $5::text, $6::text::timestamptz, $7::text FROM bumped RETURNING position)"
    f" SELECT position, pg_notify('{CHANNEL}', $1::text || ':' || position::text) FROM added",
    appends_event=True,
)


# How many arguments `_APPEND_PLAIN` takes: a write's follow them (`_append_with`).
_APPEND_ARGUMENTS = 7


@functools.cache
def _append_with(write: Statement) -> Statement:
    """`write` (an INSERT), then the event's append: one statement on PostgreSQL (the write
    a CTE of the append's), which saves the unit a round trip; two on SQLite. Arguments: the
    append's, then the write's."""
    shifted = re.sub(r"\$(\d+)", lambda m: f"${int(m[1]) + _APPEND_ARGUMENTS}", write.postgres)
    return Statement(
        sqlite=_APPEND_PLAIN.sqlite,
        postgres=f"WITH written AS ({shifted}), {_APPEND_PLAIN.postgres.removeprefix('WITH ')}",
        appends_event=True,
        sqlite_first=write.sqlite,
        sqlite_split=_APPEND_ARGUMENTS,
    )


def append_plain(
    space_id: str,
    type: str,
    thread_id: str,
    message_id: str | None,
    created_at: str,
    data: str,
    *,
    with_write: Step | None = None,
) -> Unit[int]:
    """Store one event, taking the space's next position, in a write unit (writes.py): its
    position. Written last in the unit: on PostgreSQL the position locks the space's
    counter row until the commit (ADR 0009). `with_write`: the unit's own INSERT that goes
    with the event, written in the same statement where the database can."""
    event_id = new_id("evt")
    args = (space_id, event_id, type, thread_id, message_id, created_at, data)
    if with_write is None:
        rows = yield _APPEND_PLAIN, args
    else:
        write, write_args = with_write
        rows = yield _append_with(write), (*args, *write_args)
    return int(rows[0][0])


def append(session: Session, values: dict[str, Any]) -> int:
    """Store one event (`values`: every column but `position`); its position. Synchronous:
    called as the transaction commits (service.py), inside SQLAlchemy's greenlet."""
    statement = _APPEND[session.get_bind().dialect.name]
    return int(session.execute(statement, values).scalar_one())


async def counter(session: AsyncSession, space_id: str) -> tuple[int, int]:
    """(last position handed out, purge watermark) of a space; (0, 0) before its first."""
    row = (
        await session.execute(
            select(counters.c.last_position, counters.c.purged_through).where(
                counters.c.space_id == space_id
            )
        )
    ).first()
    return (0, 0) if row is None else (int(row[0]), int(row[1]))


async def page(
    session: AsyncSession,
    space_id: str,
    *,
    after: int | None,
    through: int | None,
    thread_id: str | None,
    types: Collection[str] | None,
    limit: int,
) -> Sequence[AnyRow]:
    """Events after `after` and up to `through`, oldest first, `limit + 1` of them."""
    query = select(events).where(events.c.space_id == space_id)
    if through is not None:
        query = query.where(events.c.position <= through)
    if thread_id is not None:
        query = query.where(events.c.thread_id == thread_id)
    if types:
        query = query.where(events.c.type.in_(sorted(types)))
    query = keyset_page(
        query, [events.c.position], None if after is None else [after], order="asc", limit=limit
    )
    return (await session.execute(query)).all()


async def set_message_data(session: AsyncSession, message_id: str, data: str) -> None:
    await session.execute(update(events).where(events.c.message_id == message_id).values(data=data))


async def thread_changes(session: AsyncSession, thread_id: str) -> Sequence[AnyRow]:
    """The thread.* events of a thread (those with no message), through their own index."""
    query = select(events.c.space_id, events.c.position, events.c.data).where(
        events.c.thread_id == thread_id, events.c.message_id.is_(None)
    )
    return (await session.execute(query)).all()


async def set_data(session: AsyncSession, space_id: str, position: int, data: str) -> None:
    await session.execute(
        update(events)
        .where(events.c.space_id == space_id, events.c.position == position)
        .values(data=data)
    )


# --- retention ----------------------------------------------------------------------------


async def spaces_with_events(session: AsyncSession) -> list[str]:
    query = select(counters.c.space_id).where(counters.c.last_position > counters.c.purged_through)
    return list((await session.scalars(query)).all())


async def oldest(session: AsyncSession, space_id: str, limit: int) -> Sequence[AnyRow]:
    """The first `limit` events of a space: (position, created_at), by position."""
    query = (
        select(events.c.position, events.c.created_at)
        .where(events.c.space_id == space_id)
        .order_by(events.c.position)
        .limit(limit)
    )
    return (await session.execute(query)).all()


async def oldest_owed(session: AsyncSession, space_id: str) -> int | None:
    """The first position of the space that a webhook delivery may still need, if any: a
    pending job's, or the first the dispatcher has not yet made jobs of (it trails a busy
    process's writes; with no webhook enabled it moves the cursor on within a minute)."""
    pending = select(func.min(jobs.c.position)).where(jobs.c.space_id == space_id)
    unread = select(webhook_cursors.c.position + 1).where(webhook_cursors.c.space_id == space_id)
    positions = [await session.scalar(query) for query in (pending, unread)]
    owed = [int(position) for position in positions if position is not None]
    return min(owed, default=None)


async def purge_through(session: AsyncSession, space_id: str, position: int) -> None:
    """Delete a space's events up to `position`, and raise its watermark to it."""
    await session.execute(
        delete(events).where(events.c.space_id == space_id, events.c.position <= position)
    )
    await session.execute(
        update(counters)
        .where(counters.c.space_id == space_id, counters.c.purged_through < position)
        .values(purged_through=position)
    )


# --- stream tokens ------------------------------------------------------------------------


async def add_token(
    session: AsyncSession, token_hash: str, api_key_id: str, space_id: str, expires_at: datetime
) -> None:
    await session.execute(
        insert(tokens).values(
            token_hash=token_hash, api_key_id=api_key_id, space_id=space_id, expires_at=expires_at
        )
    )


async def take_token(session: AsyncSession, token_hash: str) -> AnyRow | None:
    """Remove a token and return it (api_key_id, space_id, expires_at): each opens one
    stream, whichever process is asked first."""
    query = (
        delete(tokens)
        .where(tokens.c.token_hash == token_hash)
        .returning(tokens.c.api_key_id, tokens.c.space_id, tokens.c.expires_at)
    )
    return (await session.execute(query)).first()


async def purge_tokens(session: AsyncSession, now: datetime) -> int:
    result = await session.execute(delete(tokens).where(tokens.c.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)
