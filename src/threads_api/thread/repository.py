"""All SQL about threads."""

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, case, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from threads_api.kit.pagination import Order
from threads_api.models import Thread
from threads_api.reads import Dialect, Rows, Statement, Unit, statement

# Reads that are only rendered go through Core and come back as rows: building ORM instances
# was the largest single cost of a read (docs/benchmarks.md). Changes load instances (`get`).
threads = cast(Table, Thread.__table__)
# (ORM attribute, its column) of every column: `metadata_` is the column `metadata`.
_ATTRIBUTES = [
    (attribute.key, attribute.columns[0]) for attribute in Thread.__mapper__.column_attrs
]


def _columns(d: Dialect) -> str:
    """A thread row as `thread/schemas.py` renders it (`thread_json`), timestamps as text."""
    return (
        f"id, space_id, title, status, metadata, message_count, {d.ts('last_message_at')},"
        f" {d.ts('created_at')}, {d.ts('updated_at')}, {d.ts('archived_at')}, last_message_id,"
        f" last_message_seq, last_message_author, last_message_preview,"
        f" {d.ts('last_message_created_at')}"
    )


_READ = statement(lambda d: f"SELECT {_columns(d)} FROM threads WHERE id = ? AND space_id = ?")


EXISTS = statement(lambda d: "SELECT 1 FROM threads WHERE id = ? AND space_id = ?")


def read_plain(space_id: str, thread_id: str) -> Unit[Rows]:
    """The thread, on a plain connection (reads.py): [] when it is not in the space."""
    return (yield _READ, (thread_id, space_id))


@functools.cache
def _page_statement(statuses: int, sort: str, order: Order, after: bool) -> Statement:
    """One statement per shape of the list, made once: `limit + 1` rows from the position
    `after` ((sort column, id), exclusive) in `order`, with `statuses` statuses."""
    operator, direction = ("<", "DESC") if order == "desc" else (">", "ASC")

    def template(d: Dialect) -> str:
        where = f"space_id = ? AND status IN ({', '.join('?' * statuses)})"
        if after:
            where += f" AND ({sort}, id) {operator} ({d.ts_arg()}, ?)"
        return (
            f"SELECT {_columns(d)} FROM threads WHERE {where}"
            f" ORDER BY {sort} {direction}, id {direction} LIMIT ?"
        )

    return statement(template)


def page(
    space_id: str,
    *,
    statuses: Sequence[str],
    sort: str,
    order: Order,
    after: Sequence[str] | None,
    limit: int,
) -> Unit[Rows]:
    """A page of the space's threads with these statuses, on a plain connection (reads.py);
    `after` as the cursor holds it (timestamp, id)."""
    if sort not in ("last_message_at", "created_at"):
        raise ValueError(f"not a sort column: {sort}")
    query = _page_statement(len(statuses), sort, order, after is not None)
    return (yield query, (space_id, *statuses, *(after or ()), limit + 1))


async def get(session: AsyncSession, space_id: str, thread_id: str) -> Thread | None:
    return await session.scalar(
        select(Thread).where(Thread.id == thread_id, Thread.space_id == space_id)
    )


async def read(session: AsyncSession, space_id: str, thread_id: str) -> Row[Any] | None:
    return (
        await session.execute(
            select(threads).where(threads.c.id == thread_id, threads.c.space_id == space_id)
        )
    ).first()


# The statements of the write path are built once and executed with parameters: a request
# builds no statement and computes no cache key (docs/perf-notes-issue11.md). An UPDATE may
# not name a bind parameter after a column of its table, hence `where_…`.
_STATUS = select(threads.c.status).where(
    threads.c.id == bindparam("thread_id"), threads.c.space_id == bindparam("space_id")
)
_ADD = insert(threads)


async def status_of(session: AsyncSession, space_id: str, thread_id: str) -> str | None:
    params = {"thread_id": thread_id, "space_id": space_id}
    status: str | None = (await session.execute(_STATUS, params)).scalar()
    return status


async def add(session: AsyncSession, thread: Thread) -> None:
    """Insert a new thread. A Core insert: no unit of work for a row the request does not
    change again; `thread` stays a plain, detached object."""
    values = {column.key: getattr(thread, attribute) for attribute, column in _ATTRIBUTES}
    await session.execute(_ADD, values)


async def lock(session: AsyncSession, space_id: str, thread_id: str) -> Row[Any] | None:
    """Read the thread and hold its row lock until the transaction ends: every change to a
    thread's messages takes it first, in the same order as `next_seq` (ADR 0007)."""
    query = select(threads).where(threads.c.id == thread_id, threads.c.space_id == space_id)
    return (await session.execute(query.with_for_update())).first()


async def change(session: AsyncSession, thread_id: str, values: dict[str, Any]) -> None:
    await session.execute(update(threads).where(threads.c.id == thread_id).values(**values))


_NOW = bindparam("now", type_=threads.c.last_message_at.type)
_NEVER_BACK = case((threads.c.last_message_at > _NOW, threads.c.last_message_at), else_=_NOW)
_NEXT_SEQ = (
    update(threads)
    .where(
        threads.c.id == bindparam("where_id"),
        threads.c.space_id == bindparam("where_space_id"),
        threads.c.status == "open",
    )
    .values(
        message_count=threads.c.message_count + 1,
        last_message_at=_NEVER_BACK,
        updated_at=_NEVER_BACK,
        last_message_id=bindparam("message_id"),
        last_message_seq=threads.c.message_count + 1,
        last_message_author=bindparam("author"),
        last_message_preview=bindparam("preview"),
        last_message_created_at=_NEVER_BACK,
    )
    .returning(threads.c.message_count, threads.c.last_message_at)
)


async def next_seq(
    session: AsyncSession,
    space_id: str,
    thread_id: str,
    now: datetime,
    *,
    message_id: str,
    author: str | None,
    preview: str,
) -> tuple[int, datetime] | None:
    """Count a new message into an open thread, make it the thread's last message, and
    return its seq and timestamp; None if the thread is missing or closed. The row lock this
    takes orders concurrent writers (ADR 0001).

    `now` was read before the lock was granted, so a writer that waited may hold an older
    time than the one before it: the timestamp never goes back, keeping `created_at`
    ordered like `seq` and `last_message_at` equal to the newest message's."""
    params = {
        "where_id": thread_id,
        "where_space_id": space_id,
        "now": now,
        "message_id": message_id,
        "author": author,
        "preview": preview,
    }
    row = (await session.execute(_NEXT_SEQ, params)).one_or_none()
    return None if row is None else (row[0], row[1])
