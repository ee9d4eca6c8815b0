"""All SQL about messages."""

import functools
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Row, RowMapping, Table, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from threads_api.kit.pagination import Order, keyset_page
from threads_api.models import Message, MessageVersion
from threads_api.reads import Dialect, Rows, Statement, Step, Unit, statement
from threads_api.thread import repository as thread_repository

# Messages are read as Core rows and changed with Core statements: no ORM instances.
messages = cast(Table, Message.__table__)
versions = cast(Table, MessageVersion.__table__)


def _columns(d: Dialect) -> str:
    """A message row as `message/schemas.py` renders it (`message_json`), timestamps as text."""
    return (
        f"id, space_id, thread_id, seq, author, content, metadata, version,"
        f" {d.ts('created_at')}, {d.ts('edited_at')}, {d.ts('deleted_at')}"
    )


# A new message, its columns in the order of `_columns` (a row `message_json` renders).
_INSERT = statement(
    lambda d: (
        "INSERT INTO messages (id, space_id, thread_id, seq, author, content, metadata,"
        f" version, created_at, edited_at, deleted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?,"
        f" {d.ts_arg()}, {d.ts_arg()}, {d.ts_arg()})"
    )
)


def new_message(row: tuple[Any, ...]) -> Step:
    """A new message (`row`: the columns of `_columns`, timestamps as the API writes them),
    written with its event (`event.repository.append_plain`)."""
    return _INSERT, row


@functools.cache
def _page_statement(order: Order, after_seq: bool, after: bool) -> Statement:
    """One statement per shape of the list, made once: `limit + 1` messages of a thread in
    seq `order`, after `after_seq` and after the cursor's seq, when given."""
    operator, direction = ("<", "DESC") if order == "desc" else (">", "ASC")
    where = "thread_id = ?"
    if after_seq:
        where += " AND seq > ?"
    if after:
        where += f" AND seq {operator} ?"
    return statement(
        lambda d: (
            f"SELECT {_columns(d)} FROM messages WHERE {where} ORDER BY seq {direction} LIMIT ?"
        )
    )


def page(
    space_id: str,
    thread_id: str,
    *,
    after_seq: int | None,
    order: Order,
    after: int | None,
    limit: int,
) -> Unit[Rows | None]:
    """A page of the thread's messages, on a plain connection (reads.py), after checking
    that the thread is in the space: None when it is not."""
    if not (yield thread_repository.EXISTS, (thread_id, space_id)):
        return None
    query = _page_statement(order, after_seq is not None, after is not None)
    bounds = tuple(bound for bound in (after_seq, after) if bound is not None)
    return (yield query, (thread_id, *bounds, limit + 1))


async def get(
    session: AsyncSession, space_id: str, thread_id: str, message_id: str
) -> Row[Any] | None:
    query = select(messages).where(
        messages.c.id == message_id,
        messages.c.thread_id == thread_id,
        messages.c.space_id == space_id,
    )
    return (await session.execute(query)).first()


async def change(session: AsyncSession, message_id: str, values: dict[str, Any]) -> None:
    await session.execute(update(messages).where(messages.c.id == message_id).values(**values))


async def add_version(
    session: AsyncSession,
    message_id: str,
    version: int,
    content: str,
    metadata: dict[str, str],
    created_at: Any,
) -> None:
    await session.execute(
        insert(versions).values(
            message_id=message_id,
            version=version,
            content=content,
            metadata=metadata,
            created_at=created_at,
        )
    )


async def version_contents(session: AsyncSession, message_id: str) -> list[str]:
    query = select(versions.c.content).where(versions.c.message_id == message_id)
    return list((await session.scalars(query)).all())


async def delete_versions(session: AsyncSession, message_id: str) -> None:
    await session.execute(delete(versions).where(versions.c.message_id == message_id))


async def versions_page(
    session: AsyncSession, message_id: str, *, after: int | None, limit: int
) -> Sequence[Row[Any]]:
    """Earlier versions, newest first: a range of the primary key (message_id, version)."""
    query = select(versions).where(versions.c.message_id == message_id)
    query = keyset_page(
        query, [versions.c.version], None if after is None else [after], order="desc", limit=limit
    )
    return (await session.execute(query)).all()


async def latest_live(
    session: AsyncSession, thread_id: str, preview_length: int
) -> RowMapping | None:
    """The newest message of the thread that is not erased, with the start of its content:
    walks the (thread_id, seq) index backwards from the end, past any tombstones."""
    query = (
        select(
            messages.c.id,
            messages.c.seq,
            messages.c.author,
            func.substr(messages.c.content, 1, preview_length).label("preview"),
            messages.c.created_at,
        )
        .where(messages.c.thread_id == thread_id, messages.c.deleted_at.is_(None))
        .order_by(messages.c.seq.desc())
        .limit(1)
    )
    return (await session.execute(query)).mappings().first()
