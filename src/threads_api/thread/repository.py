"""All SQL about threads."""

import functools
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from threads_api.kit.pagination import Order
from threads_api.models import Thread
from threads_api.reads import Dialect, Rows, Statement, Step, Unit, statement

# Reads that are only rendered go through Core and come back as rows: building ORM instances
# was the largest single cost of a read (docs/benchmarks.md). Changes load instances (`get`).
threads = cast(Table, Thread.__table__)


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


# A new thread, its columns in the order of `_columns` (a row `thread_json` renders).
_INSERT = statement(
    lambda d: (
        "INSERT INTO threads (id, space_id, title, status, metadata, message_count,"
        " last_message_at, created_at, updated_at, archived_at, last_message_id,"
        " last_message_seq, last_message_author, last_message_preview, last_message_created_at)"
        f" VALUES (?, ?, ?, ?, ?, ?, {d.ts_arg()}, {d.ts_arg()}, {d.ts_arg()}, {d.ts_arg()}, ?, ?,"
        f" ?, ?, {d.ts_arg()})"
    )
)


def _never_back(d: Dialect) -> str:
    """The thread's last activity, or `now` if later: a writer that waited for the row lock
    may hold an older time than the one before it."""
    return f"CASE WHEN last_message_at > {d.ts_arg()} THEN last_message_at ELSE {d.ts_arg()} END"


_NEXT_SEQ_PLAIN = statement(
    lambda d: (
        f"UPDATE threads SET message_count = message_count + 1,"
        f" last_message_at = {_never_back(d)}, updated_at = {_never_back(d)},"
        " last_message_id = ?, last_message_seq = message_count + 1, last_message_author = ?,"
        f" last_message_preview = ?, last_message_created_at = {_never_back(d)}"
        " WHERE id = ? AND space_id = ? AND status = 'open'"
        f" RETURNING message_count, {d.ts('last_message_at')}"
    )
)
_STATUS_PLAIN = statement(lambda d: "SELECT status FROM threads WHERE id = ? AND space_id = ?")


def new_thread(row: tuple[Any, ...]) -> Step:
    """A new thread (`row`: the columns of `_columns`, timestamps as the API writes them),
    written with its event (`event.repository.append_plain`)."""
    return _INSERT, row


def count_message(
    space_id: str, thread_id: str, now: str, *, message_id: str, author: str | None, preview: str
) -> Unit[tuple[int, str] | None]:
    """Count a new message into an open thread, make it the thread's last message, and
    return its seq and timestamp; None if the thread is missing or closed. The row lock this
    takes orders concurrent writers (ADR 0001).

    `now` was read before the lock was granted, so a writer that waited may hold an older
    time than the one before it: the timestamp never goes back, keeping `created_at`
    ordered like `seq` and `last_message_at` equal to the newest message's."""
    rows = yield (
        _NEXT_SEQ_PLAIN,
        (
            *(now,) * 4,
            message_id,
            author,
            preview,
            *(now,) * 2,
            thread_id,
            space_id,
        ),
    )
    return (rows[0][0], rows[0][1]) if rows else None


def status(space_id: str, thread_id: str) -> Unit[str | None]:
    rows = yield _STATUS_PLAIN, (thread_id, space_id)
    return rows[0][0] if rows else None


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


async def lock(session: AsyncSession, space_id: str, thread_id: str) -> Row[Any] | None:
    """Read the thread and hold its row lock until the transaction ends: every change to a
    thread's messages takes it first, in the same order as `count_message` (ADR 0007)."""
    query = select(threads).where(threads.c.id == thread_id, threads.c.space_id == space_id)
    return (await session.execute(query.with_for_update())).first()


async def change(session: AsyncSession, thread_id: str, values: dict[str, Any]) -> None:
    await session.execute(update(threads).where(threads.c.id == thread_id).values(**values))
